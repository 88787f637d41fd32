// The live progress of a sweep, published by its master beside the results file
// (`<results>.progress.json`) so that `tinyfront status` can say what is running and when the
// sweep should end. Written atomically (temporary name, then rename); never read by a resume.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tinyfront {

struct RunningRun {
  std::string run_id;
  std::string description;  // "transformer T=128 d=128 L=3 H=4 lr=0.003"
  int rank = -1;
  double started_at = 0;  // unix seconds
};

struct BestRun {
  double test_nll = 0;
  std::string description;
};

struct SweepProgress {
  std::string sweep;              // the spec's sweep name
  std::string state = "running";  // running | finished | interrupted
  std::string host;               // where the master runs
  int pid = 0;                    // the master's process id
  int ranks = 0;                  // MPI ranks of the sweep
  double started_at = 0;          // unix seconds
  double updated_at = 0;          // unix seconds
  int total = 0, finished = 0, running = 0, failed = 0, diverged = 0;
  double elapsed_seconds = 0;
  double eta_seconds = -1;              // < 0: not known yet
  std::map<std::string, BestRun> best;  // per dataset
  std::vector<RunningRun> running_runs;
};

// `<results>.progress.json`
std::string progress_path(const std::string& results_path);

void progress_write(const std::string& results_path, const SweepProgress& p);

// The published progress, if there is a readable file.
std::optional<SweepProgress> progress_read(const std::string& results_path);

// Whether the sweep that wrote `p` is still going: its state is "running" and its master is
// alive (checked by pid on the same host; elsewhere, an update in the last `stale_seconds`).
bool progress_is_live(const SweepProgress& p, double now, double stale_seconds = 120);

}  // namespace tinyfront
