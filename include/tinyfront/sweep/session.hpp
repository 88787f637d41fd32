// A sweep session: what `tinyfront sweep` does on rank 0 around the scheduler. It reads the spec
// and the command line's choices, takes the shard, checks the budget limits, and resumes: the
// results file (opened, created, or rebuilt from its journal) decides which runs still run; it
// stores each dataset's vocabulary once, records finished runs, and routes checkpoints to the
// checkpoint directory. No MPI: the CLI connects it to the scheduler.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tinyfront/run/record.hpp"
#include "tinyfront/spec/sweep_spec.hpp"
#include "tinyfront/store/checkpoint.hpp"
#include "tinyfront/store/results_file.hpp"
#include "tinyfront/sweep/progress.hpp"

namespace tinyfront {

struct SessionOptions {
  std::string spec_path;
  std::vector<std::string> sets;   // --set overrides
  std::string out;                 // the results file
  std::string shard;               // "i/n", empty for all runs
  std::string shared_checkpoints;  // a directory workers write checkpoints to themselves
  bool simulate = false;           // no results file: every run of the shard is to do
  bool retry_failed = false;
  bool ignore_limits = false;
  double flops_per_second = 0;  // for time estimates (0: the default)
  int workers = 0;              // MPI ranks less the master (for sweep.max_hours)
};

// --shard i/n. Throws SpecError naming the option for anything but 0 <= i < n.
struct Shard {
  int index = 0, count = 1;
};
Shard parse_shard(const std::string& text);

// The resume policy: whether a run stored with `stored` (none: not in the results file) runs
// again. Done and diverged runs are kept; failed ones run again with --retry-failed; preempted
// ones resume (from their checkpoint, if any).
bool should_run(std::optional<RunStatus> stored, bool retry_failed);

// The name each distinct data config of `runs` stores its vocabulary under, in order of first
// use: the dataset's name, or, when two data configs share a name (another tokenizer, say), the
// name plus a hash of the config, so that neither is lost.
std::vector<std::pair<std::string, DataConfig>> vocabulary_names(
    const std::vector<RunConfig>& runs);

// Where checkpoints go: the shared directory if given, else "<results>.ckpt".
std::string checkpoint_dir_of(const std::string& results_path, const std::string& shared_dir);

struct SweepSession {
  SessionOptions options;
  SweepSpec spec;
  std::vector<RunConfig> runs;        // the shard's runs, in spec order
  std::vector<std::string> run_ids;   // of `runs`
  std::vector<RunConfig> todo;        // those the resume policy runs
  std::optional<ResultsStore> store;  // none under --simulate
  bool created = false;               // this session created the results file
  int64_t rebuilt_runs = -1;          // >= 0: the file was rebuilt from its journal (runs found)
  int skipped = 0;                    // runs already recorded
  CheckpointDir checkpoints{""};
};

// Opens the session. Bad input (options, spec, limits) throws SpecError; anything else Error. A
// failure leaves nothing new behind: a results file it created (holding no run yet) is removed.
SweepSession open_sweep_session(const SessionOptions& options);

// Records finished runs (one group, one fsync) and then removes their checkpoints; a preempted
// run keeps its checkpoint to resume from. A failure to record says which runs were lost and
// that the runs recorded before are kept.
void session_record(SweepSession& session, const std::vector<RunRecord>& records);

// Publishes the sweep's progress beside the results file, after checking that the results file
// is still the one being written (one deleted or replaced mid-sweep is noticed at once).
void session_progress(SweepSession& session, const SweepProgress& progress);

void session_close(SweepSession& session);

}  // namespace tinyfront
