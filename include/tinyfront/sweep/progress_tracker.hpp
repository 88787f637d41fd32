// What the sweep master knows of its progress: counts, the estimated work finished and left (for
// the ETA), the best run per dataset and which run each rank has. Plain bookkeeping with no MPI
// and no clock of its own (elapsed times are passed in), so that tests can drive it; the
// scheduler prints its line and publishes its snapshot (sweep/progress.hpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tinyfront/run/record.hpp"
#include "tinyfront/sweep/progress.hpp"

namespace tinyfront {

// "transformer T=128 d=128 L=3 H=4 lr=0.003": a run as the progress line names it.
std::string describe_run(const RunConfig& c);

// "01:02:03"; "--:--:--" for a time not known.
std::string hms(double seconds);

struct ProgressTracker {
  int total = 0, finished = 0, running = 0, failed = 0, diverged = 0;
  std::vector<double> estimate;            // per run of the queue: estimated seconds still to do
  std::map<std::string, size_t> index_of;  // run id -> its index in `estimate`
  double est_total = 0;                    // estimated seconds of all the sweep's work
  double est_finished = 0;                 // ... of the runs finished
  std::map<std::string, BestRun> best;     // per dataset
  std::map<int, RunningRun> running_on;    // rank -> its run

  ProgressTracker() = default;
  // The runs to do (ids[i] with estimate estimates[i] seconds).
  ProgressTracker(const std::vector<std::string>& ids, const std::vector<double>& estimates);

  // Run i resumes from a checkpoint with `windows_done` of its `windows_total` training windows
  // done: only the rest of its estimate is work still to do (and what it is credited with).
  void resumed(size_t i, int64_t windows_done, int64_t windows_total);
  void started(int rank, const RunningRun& run);
  void stopped(int rank);  // the rank's run ended (its result may not be durable yet)
  // Counts a run whose result is durable.
  void finished_run(const RunRecord& rec);

  // Seconds left: the remaining estimated work, scaled by how the estimates compared to the
  // `elapsed` seconds so far. NaN until a run has finished.
  double eta_seconds(double elapsed) const;
  // "[name] 3/10 finished (0 failed, 0 diverged) | 2 running | 5 left | elapsed .. | ETA .."
  std::string line(const std::string& name, double elapsed) const;
  // The counts, ETA, best runs and running runs of a SweepProgress (its other fields are the
  // caller's: sweep name, state, host, pid, ranks, times).
  void fill(SweepProgress& p, double elapsed) const;
};

}  // namespace tinyfront
