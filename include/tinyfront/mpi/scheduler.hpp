// Running a sweep over MPI ranks: a dynamic queue on rank 0 (longest estimated run first,
// src/mpi/master.cpp), workers that pull runs as they free up (worker.cpp) and execute them
// (executor.hpp), progress reporting (sweep/progress_tracker.hpp), and clean shutdown (stop.cpp).
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>

#include "tinyfront/mpi/world.hpp"
#include "tinyfront/run/record.hpp"
#include "tinyfront/spec/sweep_spec.hpp"
#include "tinyfront/sweep/progress.hpp"

namespace tinyfront {

struct SchedulerOptions {
  // Every rank's executor (mpi/executor.hpp): simulated runs sleep for their estimated duration
  // multiplied by simulate_scale instead of training.
  bool simulate = false;
  double simulate_scale = 1e-3;
  double flops_per_second = 0;     // throughput for estimates (0: a default of 2e10)
  bool quiet = false;              // no progress lines
  double progress_interval = 2.0;  // seconds between progress lines (plus one per finished run)
};

// What the master does with runs, results and checkpoints (the store plugs in here).
struct SchedulerCallbacks {
  // Called on rank 0 with finished runs (any status) before they count as finished. Results that
  // arrive together come as one group, to be made durable together (group commit: one fsync).
  std::function<void(const std::vector<RunRecord>&)> on_results;
  // Called on rank 0 with a run's latest checkpoint (serialized TrainState).
  std::function<void(const std::string& run_id, const std::string& state)> on_checkpoint;
  // Returns a run's stored checkpoint, if any, to resume it from.
  std::function<std::optional<std::string>(const std::string& run_id)> load_checkpoint;
  // When set, workers store their checkpoints themselves with it (a directory every node can
  // reach) instead of sending them to rank 0. Called on worker ranks.
  std::function<void(const std::string& run_id, const std::string& state)> worker_checkpoint;
  // Called on rank 0 with the sweep's progress: at most once a second while it runs, and once at
  // the end (state "finished" or "interrupted").
  std::function<void(const SweepProgress&)> on_progress;
};

struct SweepOutcome {
  int total = 0;  // runs scheduled
  int done = 0, diverged = 0, failed = 0, preempted = 0;
  double startup_seconds = 0;          // waiting for every rank to be up (not part of wall_seconds)
  double wall_seconds = 0;             // from every rank up to the last result
  double busy_seconds = 0;             // sum of run durations measured by workers
  double efficiency = 0;               // busy / (workers x wall)
  double dispatch_ms_per_run = 0;      // master wall time from a worker's message to its next run
  double dispatch_cpu_ms_per_run = 0;  // master CPU time per dispatched run
  int commits = 0;                     // group commits of results (one fsync each)
  bool interrupted = false;            // a stop signal ended the sweep early
};

// Collective: every rank of `world` calls it. Rank 0 (the master) uses `spec` and `runs`; the
// workers ignore them (everything a run needs travels in its message), so they need not read
// the spec. With one rank, rank 0 runs everything itself.
SweepOutcome run_sweep(const MpiWorld& world, const SweepSpec& spec,
                       const std::vector<RunConfig>& runs, const SchedulerOptions& options,
                       const SchedulerCallbacks& callbacks);

// Ends the whole MPI job now, after a fatal error on this rank: prints one line
// "error: rank R of N (host): message" on stderr and calls MPI_Abort, so that every rank exits
// promptly with a non-zero code. Never let such an error unwind into MPI_Finalize (the Boost.MPI
// environment's destructor): finalize is collective, and ranks waiting for a message from this
// one would wait for ever.
[[noreturn]] void abort_job(const MpiWorld& world, const std::string& message, int exit_code = 1);

// Installs SIGTERM/SIGINT/SIGUSR1 handlers that set the stop flag polled by running runs.
void install_stop_handlers();
bool stop_requested();

}  // namespace tinyfront
