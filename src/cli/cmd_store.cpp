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
#include "tinyfront/sweep/progress.hpp"
#include "tinyfront/util/system.hpp"

namespace fs = std::filesystem;

namespace tinyfront::cli {

namespace {

// 3725 s -> "1:02:05"
std::string format_duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

}  // namespace

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
    // A sweep writing to this file publishes its progress beside it.
    const std::optional<SweepProgress> progress = progress_read(opt->path);
    const double now = unix_now();
    const bool live = progress && progress_is_live(*progress, now);
    // The ETA was computed at the last update; count down from there.
    const double eta = live && progress->eta_seconds >= 0
                           ? std::max(0.0, progress->eta_seconds - (now - progress->updated_at))
                           : -1;
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
      j["live"] = live;
      if (progress) {
        nlohmann::ordered_json s;
        s["state"] = live ? "running" : (progress->state == "running" ? "gone" : progress->state);
        s["host"] = progress->host;
        s["pid"] = progress->pid;
        s["ranks"] = progress->ranks;
        s["updated_at"] = progress->updated_at;
        s["total"] = progress->total;
        s["finished"] = progress->finished;
        s["running"] = progress->running;
        s["left"] = progress->total - progress->finished - progress->running;
        s["elapsed_seconds"] = progress->elapsed_seconds;
        s["eta_seconds"] = eta >= 0 ? nlohmann::json(eta) : nlohmann::json();
        s["running_runs"] = nlohmann::ordered_json::array();
        for (auto& r : progress->running_runs)
          s["running_runs"].push_back({{"run_id", r.run_id},
                                       {"description", r.description},
                                       {"rank", r.rank},
                                       {"seconds", now - r.started_at}});
        j["sweep"] = s;
      } else {
        j["sweep"] = nullptr;
      }
      std::cout << j.dump() << "\n";
    } else {
      std::printf("%s: %zu runs (schema %d, created %s, updated %s)\n", opt->path.c_str(),
                  recs.size(), info.schema_version, info.created_at.c_str(),
                  info.updated_at.c_str());
      for (auto& [s, n] : counts)
        if (n) std::printf("  %-10s %d\n", s.c_str(), n);
      if (std::isfinite(best)) std::printf("  best test NLL %.4f\n", best);
      std::printf("  %.1f run-seconds of training recorded\n", wall);
      if (live) {
        const SweepProgress& p = *progress;
        std::printf("sweep %s is running (pid %d on %s, %d ranks, updated %.0f s ago):\n",
                    p.sweep.c_str(), p.pid, p.host.c_str(), p.ranks, now - p.updated_at);
        std::printf("  %d/%d finished, %d running, %d left | elapsed %s | ETA %s\n", p.finished,
                    p.total, p.running, p.total - p.finished - p.running,
                    format_duration(p.elapsed_seconds + (now - p.updated_at)).c_str(),
                    eta >= 0 ? format_duration(eta).c_str() : "unknown yet");
        for (auto& r : p.running_runs)
          std::printf("  rank %-4d %s  %s  for %s\n", r.rank, r.run_id.c_str(),
                      r.description.c_str(), format_duration(now - r.started_at).c_str());
      } else {
        if (progress && progress->state == "running")
          std::printf(
              "  no sweep is running on it (the last one, pid %d on %s, stopped without "
              "finishing)\n",
              progress->pid, progress->host.c_str());
        if (!in_flight.empty())
          std::printf(
              "  %zu runs have checkpoints (interrupted): resume with the same sweep command\n",
              in_flight.size());
      }
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
