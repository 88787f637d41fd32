// tinyfront model-master: the discrete-event model of the sweep master (sweep/master_model.hpp),
// as a table of efficiency and results stored per second over worker counts and run lengths.
#include <cstdio>
#include <vector>

#include "tinyfront/cli/checks.hpp"
#include "tinyfront/cli/commands.hpp"
#include "tinyfront/sweep/master_model.hpp"

namespace tinyfront::cli {

Command add_model_master(CLI::App& app) {
  struct Opt {
    double dispatch_ms = 0.1, append_ms = 0.24, record_us = 5, checkpoint_ms = 0;
    double checkpoint_every = 0;
  };
  auto opt = std::make_shared<Opt>();
  CLI::App* sub = app.add_subcommand(
      "model-master",
      "Where one sweep master saturates: a discrete-event model over worker counts 10^2..10^5 "
      "and run lengths 1 s..1 h, from measured master costs (docs/scheduling.md)");
  auto ms = finite_number(0, 1e6);
  sub->add_option("--dispatch-ms", opt->dispatch_ms, "Master time per result, journal aside")
      ->check(ms)
      ->capture_default_str();
  sub->add_option("--append-ms", opt->append_ms, "One durable journal append (write + fsync)")
      ->check(ms)
      ->capture_default_str();
  sub->add_option("--record-us", opt->record_us, "Each further result of a group commit")
      ->check(ms)
      ->capture_default_str();
  sub->add_option("--checkpoint-ms", opt->checkpoint_ms, "Master time per checkpoint received")
      ->check(ms)
      ->capture_default_str();
  sub->add_option("--checkpoint-every", opt->checkpoint_every,
                  "Seconds between checkpoints of a run (0: none)")
      ->check(ms)
      ->capture_default_str();
  return [opt]() -> int {
    const std::vector<long long> workers{100, 1000, 10000, 100000};
    const std::vector<double> lengths{1, 10, 60, 600, 3600};
    std::printf(
        "dispatch %.3g ms, append %.3g ms, group record %.3g us, checkpoint %.3g ms every "
        "%.3g s\n\n",
        opt->dispatch_ms, opt->append_ms, opt->record_us, opt->checkpoint_ms,
        opt->checkpoint_every);
    std::printf(
        "| workers | run length (s) | demand (results/s) | stored/s, one fsync each | "
        "efficiency | stored/s, group commit | efficiency | results per fsync |\n");
    std::printf("|---|---|---|---|---|---|---|---|\n");
    for (long long w : workers)
      for (double len : lengths) {
        MasterModelInputs in;
        in.workers = w, in.run_seconds = len;
        in.dispatch_seconds = opt->dispatch_ms * 1e-3, in.append_seconds = opt->append_ms * 1e-3;
        in.record_seconds = opt->record_us * 1e-6;
        in.checkpoint_seconds = opt->checkpoint_ms * 1e-3;
        in.checkpoint_every_seconds = opt->checkpoint_every;
        in.group_commit = false;
        const MasterModelResult one = simulate_master(in);
        in.group_commit = true;
        const MasterModelResult group = simulate_master(in);
        std::printf("| %lld | %g | %.3g | %.3g | %.1f%% | %.3g | %.1f%% | %.2f |\n", w, len,
                    double(w) / len, one.results_per_second, 100 * one.efficiency,
                    group.results_per_second, 100 * group.efficiency, group.mean_group_size);
      }
    return 0;
  };
}

}  // namespace tinyfront::cli
