// tinyfront plan SPEC: what a sweep will cost, before it runs.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "tinyfront/bench/calibrate.hpp"
#include "tinyfront/cli/checks.hpp"
#include "tinyfront/cli/commands.hpp"
#include "tinyfront/cli/exit_codes.hpp"
#include "tinyfront/spec/sweep_spec.hpp"
#include "tinyfront/sweep/budget_limits.hpp"
#include "tinyfront/util/auto_threads.hpp"

namespace tinyfront::cli {

namespace {
struct PlanOptions {
  std::string spec;
  std::vector<std::string> sets;
  int ranks = 2;
  double flops_per_second = 0;
  bool json = false;
  bool list = false;
};
}  // namespace

Command add_plan(CLI::App& app) {
  auto opt = std::make_shared<PlanOptions>();
  CLI::App* sub = app.add_subcommand("plan", "Expand a sweep spec and estimate its cost");
  sub->add_option("spec", opt->spec, "Sweep spec (TOML)")->required();
  sub->add_option("--set", opt->sets, "Override: sweep.key=value or section.key=value");
  sub->add_option("--ranks", opt->ranks, "MPI ranks the sweep will use (1 master + workers)")
      ->default_val(2)
      ->check(whole_number(1, 1 << 24));
  sub->add_option("--flops-per-second", opt->flops_per_second,
                  "Training throughput per rank (default: measured now, about a second)")
      ->check(finite_number(0, INFINITY, true));
  sub->add_flag("--list", opt->list, "List every run");
  sub->add_flag("--json", opt->json, "One JSON object on stdout");
  return [opt]() -> int {
    SweepSpec spec = load_sweep_spec(opt->spec, opt->sets);
    // "auto": estimate with what a rank started here would take.
    const int threads = spec.settings.threads_per_rank == kAutoThreads
                            ? auto_threads().threads
                            : spec.settings.threads_per_rank;
    double fps = opt->flops_per_second > 0 ? opt->flops_per_second
                                           : measure_training_flops_per_second(threads, 0.5);
    struct Group {
      int runs = 0;
      double params_min = INFINITY, params_max = 0, study = 0, kaplan = 0, exact = 0, hours = 0;
    };
    std::map<std::string, Group> by_arch;
    Group total;
    SweepCost cost;  // for the spec's limits
    nlohmann::ordered_json list = nlohmann::ordered_json::array();
    for (size_t k = 0; k < spec.runs.size(); ++k) {
      const RunConfig& r = spec.runs[k];
      const CorpusInfo& ci = spec.corpora.at(data_key(r.data));
      PlannedCost c = planned_cost(r, ci);
      double secs = estimate_seconds(c, fps);
      cost.add(c.flops(spec.settings.flops_convention), secs / 3600);
      for (Group* g : {&by_arch[to_string(r.model.arch)], &total}) {
        g->runs += 1;
        g->params_min = std::min(g->params_min, double(c.params));
        g->params_max = std::max(g->params_max, double(c.params));
        g->study += c.flops_study, g->kaplan += c.flops_kaplan, g->exact += c.flops_exact;
        g->hours += secs / 3600;
      }
      if (opt->list || opt->json)
        list.push_back({{"run_id", spec.ids[k]},
                        {"arch", to_string(r.model.arch)},
                        {"params", c.params},
                        {"train_tokens", c.train_tokens},
                        {"flops_study", c.flops_study},
                        {"flops_kaplan", c.flops_kaplan},
                        {"flops_exact", c.flops_exact},
                        {"budget", r.train.budget},
                        {"estimated_seconds", secs}});
    }
    const int workers = std::max(1, opt->ranks - 1);
    const SweepSettings& S = spec.settings;
    const double wall_hours = cost.wall_hours(workers);
    const std::vector<std::string> over = exceeded_limits(S, cost, workers);
    if (opt->json) {
      nlohmann::ordered_json j;
      j["spec"] = opt->spec;
      j["runs"] = total.runs;
      j["ranks"] = opt->ranks;
      j["flops_per_second_per_rank"] = fps;
      j["total_flops"] = {{"study", total.study}, {"kaplan", total.kaplan}, {"exact", total.exact}};
      j["estimated_wall_hours"] = wall_hours;
      auto& a = j["by_arch"];
      for (auto& [name, g] : by_arch)
        a[name] = {
            {"runs", g.runs},         {"params_min", g.params_min}, {"params_max", g.params_max},
            {"flops_study", g.study}, {"flops_kaplan", g.kaplan},   {"flops_exact", g.exact},
            {"cpu_hours", g.hours}};
      j["limits_exceeded"] = over;
      j["list"] = list;
      std::cout << j.dump() << "\n";
    } else {
      std::printf("sweep %s: %d runs from %s\n\n", S.name.c_str(), total.runs, opt->spec.c_str());
      std::printf("%-12s %6s %12s %12s %11s %11s %11s %9s\n", "arch", "runs", "params min",
                  "params max", "FLOPs 2PT", "FLOPs 6ND", "FLOPs exact", "rank-h");
      for (auto& [name, g] : by_arch)
        std::printf("%-12s %6d %12.0f %12.0f %11.3e %11.3e %11.3e %9.3f\n", name.c_str(), g.runs,
                    g.params_min, g.params_max, g.study, g.kaplan, g.exact, g.hours);
      std::printf("%-12s %6d %12s %12s %11.3e %11.3e %11.3e %9.3f\n", "total", total.runs, "", "",
                  total.study, total.kaplan, total.exact, total.hours);
      std::printf("\nthroughput %.3g FLOP/s per rank (%d threads, %s)\n", fps, threads,
                  opt->flops_per_second > 0 ? "given" : "measured now");
      std::printf("estimated wall time on %d ranks (%d workers): %.2f h\n", opt->ranks, workers,
                  wall_hours);
      if (opt->list)
        for (auto& x : list)
          std::printf("  %s %-11s params %9lld  tokens %11lld  FLOPs %.3e  %s  ~%.1fs\n",
                      x["run_id"].get<std::string>().c_str(), x["arch"].get<std::string>().c_str(),
                      (long long)x["params"].get<int64_t>(),
                      (long long)x["train_tokens"].get<int64_t>(), x["flops_study"].get<double>(),
                      x["budget"].get<std::string>().c_str(), x["estimated_seconds"].get<double>());
      for (auto& o : over) std::printf("LIMIT EXCEEDED: %s\n", o.c_str());
    }
    return over.empty() ? kExitOk : kExitLimitExceeded;
  };
}

}  // namespace tinyfront::cli
