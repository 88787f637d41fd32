// Commands around a results file: status, merge, export.
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "tinyfront/cli/commands.hpp"
#include "tinyfront/store/checkpoint.hpp"
#include "tinyfront/store/results_file.hpp"

namespace fs = std::filesystem;

namespace tinyfront::cli {

Command add_status(CLI::App& app) {
  struct Opt {
    std::string path;
    bool json = false;
  };
  auto opt = std::make_shared<Opt>();
  CLI::App* sub = app.add_subcommand("status", "Counts by status and what is running");
  sub->add_option("results", opt->path, "Results file (HDF5)")->required();
  sub->add_flag("--json", opt->json, "One JSON object on stdout");
  return [opt]() -> int {
    StoreInfo info = store_validate(opt->path);
    std::vector<RunRecord> recs = store_read_runs(opt->path);
    std::map<std::string, int> counts;
    for (const char* s : {"pending", "running", "done", "diverged", "failed", "preempted"})
      counts[s] = 0;
    double best = INFINITY, wall = 0, last_finish = 0, first_start = INFINITY;
    for (auto& r : recs) {
      counts[to_string(r.result.status)] += 1;
      if (r.result.status == RunStatus::done && r.result.test_nll < best) best = r.result.test_nll;
      wall += r.result.wall_seconds;
      last_finish = std::max(last_finish, r.finished_at);
      first_start = std::min(first_start, r.started_at);
    }
    // Runs with a checkpoint and no final record are in flight (or were, when a sweep died).
    std::vector<std::string> in_flight;
    CheckpointDir ck(opt->path + ".ckpt");
    if (fs::exists(ck.dir))
      for (auto& e : fs::directory_iterator(ck.dir))
        if (e.path().extension() == ".h5") in_flight.push_back(e.path().stem().string());
    if (opt->json) {
      nlohmann::ordered_json j;
      j["path"] = opt->path;
      j["runs"] = recs.size();
      j["counts"] = counts;
      j["checkpointed"] = in_flight;
      j["best_test_nll"] = std::isfinite(best) ? nlohmann::json(best) : nlohmann::json();
      j["created_at"] = info.created_at;
      j["updated_at"] = info.updated_at;
      j["hosts"] = info.hosts;
      j["run_seconds_total"] = wall;
      std::cout << j.dump() << "\n";
    } else {
      std::printf("%s: %zu runs (schema %d, created %s, updated %s)\n", opt->path.c_str(),
                  recs.size(), info.schema_version, info.created_at.c_str(),
                  info.updated_at.c_str());
      for (auto& [s, n] : counts)
        if (n) std::printf("  %-10s %d\n", s.c_str(), n);
      if (!in_flight.empty())
        std::printf(
            "  %zu runs have checkpoints (running or interrupted): resume with the same "
            "sweep command\n",
            in_flight.size());
      if (std::isfinite(best)) std::printf("  best test NLL %.4f\n", best);
      std::printf("  %.1f run-seconds of training recorded\n", wall);
    }
    return 0;
  };
}

Command add_merge(CLI::App& app) {
  struct Opt {
    std::vector<std::string> inputs;
    std::string out;
  };
  auto opt = std::make_shared<Opt>();
  CLI::App* sub =
      app.add_subcommand("merge", "Join results files of the same spec (shards) into a new file");
  sub->add_option("inputs", opt->inputs, "Results files")->required()->expected(1, -1);
  sub->add_option("-o,--out", opt->out, "The merged file (must not exist)")->required();
  return [opt]() -> int {
    store_merge(opt->inputs, opt->out);
    std::printf("%s: %zu runs merged from %zu files\n", opt->out.c_str(),
                store_read_runs(opt->out).size(), opt->inputs.size());
    return 0;
  };
}

Command add_export(CLI::App& app) {
  struct Opt {
    std::string path;
    bool csv = true;
  };
  auto opt = std::make_shared<Opt>();
  CLI::App* sub = app.add_subcommand("export", "Write the runs table as CSV on stdout");
  sub->add_option("results", opt->path, "Results file (HDF5)")->required();
  sub->add_flag("--csv", opt->csv, "CSV (the default and only format)");
  return [opt]() -> int {
    store_export_csv(opt->path, std::cout);
    return 0;
  };
}

}  // namespace tinyfront::cli
