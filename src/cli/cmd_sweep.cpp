// tinyfront sweep SPEC --out results.h5: the grid over MPI ranks, into a results file.
// Run under mpirun/srun; rank 0 is the master and the only writer.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "tinyfront/cli/checks.hpp"
#include "tinyfront/cli/commands.hpp"
#include "tinyfront/cli/exit_codes.hpp"
#include "tinyfront/cli/report.hpp"
#include "tinyfront/mpi/scheduler.hpp"
#include "tinyfront/store/results_file.hpp"
#include "tinyfront/sweep/session.hpp"

namespace tinyfront::cli {

namespace {

struct SweepCliOptions {
  std::string spec, out, shard;
  std::vector<std::string> sets;
  bool simulate = false;
  double simulate_scale = 1e-3;
  double flops_per_second = 0;
  std::string shared_checkpoints;
  bool retry_failed = false;
  bool ignore_limits = false;
  bool json = false;
  bool quiet = false;
};

// Said on stderr once the session is open: a rebuilt results file (always, even with -q: runs
// folded into the lost file are not in the journal), and how much of the sweep is already done.
void say_resumed(const SweepSession& s, bool quiet) {
  const char* name = s.spec.settings.name.c_str();
  const char* out = s.options.out.c_str();
  if (s.rebuilt_runs >= 0)
    std::fprintf(stderr,
                 "[%s] %s was missing: rebuilt it from its journal %s.journal (%lld runs "
                 "recovered; runs that were only in the lost file run again)\n",
                 name, out, out, (long long)s.rebuilt_runs);
  if (s.skipped && !quiet)
    std::fprintf(stderr, "[%s] resuming %s: %d of %zu runs already recorded, %zu to run\n", name,
                 out, s.skipped, s.runs.size(), s.todo.size());
}

void print_simulated(const MpiWorld& world, const SweepOutcome& outcome) {
  nlohmann::ordered_json j;
  j["ranks"] = world.size();
  j["runs"] = outcome.total;
  j["startup_seconds"] = outcome.startup_seconds;
  j["wall_seconds"] = outcome.wall_seconds;
  j["busy_seconds"] = outcome.busy_seconds;
  j["efficiency"] = outcome.efficiency;
  j["dispatch_ms_per_run"] = outcome.dispatch_ms_per_run;
  j["dispatch_cpu_ms_per_run"] = outcome.dispatch_cpu_ms_per_run;
  j["commits"] = outcome.commits;
  std::cout << j.dump() << "\n";
}

// Rank 0 opens the session; every rank learns whether to go on. Returns 0 to go on, else the
// exit code.
int open_session(const MpiWorld& world, const SweepCliOptions& o, SweepSession& session) {
  const bool master = world.rank() == 0;

  // Only rank 0 reads the spec: each run's message carries all a worker needs, so 1,024
  // workers do not each load every corpus. Rank 0 then tells the workers whether to go on.
  int go = 1;  // 1: run; 0: failed (exit 1); 2: bad spec or options (exit 2)
  std::string error;
  if (master) {
    SessionOptions so;
    so.spec_path = o.spec;
    so.sets = o.sets;
    so.out = o.out;
    so.shard = o.shard;
    so.shared_checkpoints = o.shared_checkpoints;
    so.simulate = o.simulate;
    so.retry_failed = o.retry_failed;
    so.ignore_limits = o.ignore_limits;
    so.flops_per_second = o.flops_per_second;
    so.workers = world.size() - 1;
    try {
      session = open_sweep_session(so);
      say_resumed(session, o.quiet);
    } catch (const SpecError& e) {
      error = e.what();
      go = 2;
    } catch (const std::exception& e) {
      error = e.what();
      go = 0;
    }
  }
  go = world.broadcast_from_master(go);
  if (go != 1) {
    // The workers wait until the master has said why: a worker that exits first (non-zero)
    // makes mpirun kill the master before its message is out.
    if (master) {
      // Said here (as main would say it), before the workers are let go.
      std::fprintf(stderr, "error: %s\n", error.c_str());
      std::fflush(stderr);
    }
    if (world.size() > 1) world.barrier();
    return go == 2 ? kExitBadInput : kExitFailed;
  }
  return 0;
}

// Runs the sweep on every rank, then rank 0 prints its results.
int run_session(const MpiWorld& world, const SweepCliOptions& o, SweepSession& session) {
  const bool master = world.rank() == 0;
  // From here on every rank is in the sweep. A fatal error on any rank (a results file that
  // cannot be written: disk full, quota, a vanished directory) ends the whole job at once with
  // MPI_Abort: unwinding into the environment's collective MPI_Finalize would hang the ranks
  // that wait for this one. Alone, there is nobody to wait for, and main prints the error.
  try {
    SchedulerOptions so;
    so.simulate = o.simulate;
    so.simulate_scale = o.simulate_scale;
    so.flops_per_second = o.flops_per_second;
    so.quiet = o.quiet;
    SchedulerCallbacks cb;
    if (master && session.store) {
      cb.on_results = [&](const std::vector<RunRecord>& recs) { session_record(session, recs); };
      cb.on_checkpoint = [&](const std::string& id, const std::string& state) {
        session.checkpoints.write(id, state);
      };
      cb.load_checkpoint = [&](const std::string& id) { return session.checkpoints.read(id); };
      cb.on_progress = [&](const SweepProgress& p) { session_progress(session, p); };
    }
    // Workers given a shared directory write their checkpoints there themselves.
    const CheckpointDir worker_dir(checkpoint_dir_of(o.out, o.shared_checkpoints));
    if (!master && !o.shared_checkpoints.empty())
      cb.worker_checkpoint = [&](const std::string& id, const std::string& state) {
        worker_dir.write(id, state);
      };
    SweepOutcome outcome = run_sweep(world, session.spec, session.todo, so, cb);
    if (!master) return kExitOk;
    session_close(session);

    if (o.simulate) {
      print_simulated(world, outcome);
    } else {
      std::vector<RunRecord> records = store_read_runs(o.out);
      if (o.json)
        std::cout << summary_json(records, outcome).dump() << "\n";
      else
        print_results_table(std::cout, records);
    }
    if (outcome.interrupted) return kExitInterrupted;
    return outcome.failed || outcome.diverged ? kExitFailed : kExitOk;
  } catch (const std::exception& e) {
    if (world.size() == 1) throw;
    abort_job(world, e.what(), kExitFailed);
  }
}

int sweep_command(const SweepCliOptions& o) {
  MpiWorld world;
  install_stop_handlers();
  SweepSession session;
  if (const int code = open_session(world, o, session)) return code;
  return run_session(world, o, session);
}

}  // namespace

Command add_sweep(CLI::App& app) {
  auto opt = std::make_shared<SweepCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "sweep", "Run a grid of training runs over MPI ranks (mpirun -n N tinyfront sweep ...)");
  sub->add_option("spec", opt->spec, "Sweep spec, e.g. sweeps/quick.toml")->required();
  sub->add_option("-o,--out", opt->out, "Results file (HDF5); resumed if it exists")->required();
  sub->add_option("--set", opt->sets, "Override: sweep.key=value or section.key=value");
  sub->add_option("--shard", opt->shard, "Run only shard i of n (i/n, 0-based)");
  sub->add_flag("--simulate", opt->simulate,
                "Workers sleep for each run's estimated time instead of training");
  sub->add_option("--simulate-scale", opt->simulate_scale,
                  "Fraction of the estimated time a simulated run sleeps")
      ->default_val(1e-3)
      ->check(finite_number(0, 1e6));
  sub->add_option("--flops-per-second", opt->flops_per_second,
                  "Throughput used for time estimates (default: 2e10)")
      ->check(finite_number(0, INFINITY, true));
  sub->add_option("--shared-checkpoint-dir", opt->shared_checkpoints,
                  "Workers write checkpoints here themselves (a directory every node can reach) "
                  "instead of sending them to rank 0");
  sub->add_flag("--retry-failed", opt->retry_failed, "Run again the runs recorded as failed");
  sub->add_flag("--ignore-limits", opt->ignore_limits,
                "Start even if the spec's max_total_flops/max_run_flops/max_hours are exceeded");
  sub->add_flag("--json", opt->json, "Print a JSON summary on stdout at the end");
  sub->add_flag("-q,--quiet", opt->quiet, "No progress lines");
  return [opt]() -> int { return sweep_command(*opt); };
}

}  // namespace tinyfront::cli
