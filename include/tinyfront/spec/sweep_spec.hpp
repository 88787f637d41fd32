// Sweep specs: a TOML grid over every training field, expanded into fully resolved runs.
//
//   [sweep]       name, threads_per_rank, max_total_flops, max_run_flops, max_hours, max_runs,
//                 flops_convention ("study"|"kaplan"|"exact": which FLOPs the limits use),
//                 checkpoint_steps, checkpoint_seconds
//   [defaults]    job-spec fields shared by every run: data.path = "...", model.arch = "...", ...
//   [grid]        axes: a dotted field name and a list of values; the runs are their product
//   [[subgrid]]   per-architecture sub-grids: `name`, `set.<field> = value` (fixed settings) and
//                 `grid.<field> = [...]` (its own axes), each crossed with the shared [grid]
//   [[exclude]]   drop every run whose fields match all the given values (a list = any of them)
//   [[include]]   extra single runs: fields set over [defaults]
//   [budget]      mode = "fixed" | "tokens_per_param" | "iso_flops" | "scaled_epochs";
//                 tokens_per_param = [..], iso_flops = [..] (axes), convention (iso_flops),
//                 reference.<field> = value (scaled_epochs: the reference model)
//
// See docs/sweep-spec.md for the full description and sweeps/ for examples.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tinyfront/run/config.hpp"
#include "tinyfront/run/flop_convention.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront {

struct SweepSettings {
  std::string name = "sweep";
  int threads_per_rank = 1;    // kAutoThreads (0) for "auto": each rank picks its own
  double max_total_flops = 0;  // 0 = no limit
  double max_run_flops = 0;
  double max_hours = 0;
  FlopConvention flops_convention = FlopConvention::study;
  // Largest grid expanded (runs before [[exclude]] and de-duplication, budget values
  // included): counted before expansion, so that a mistyped axis is refused at once.
  int64_t max_runs = 1'000'000;
  int64_t checkpoint_steps = 0;       // 0 = by time only
  double checkpoint_seconds = 300.0;  // 0 = never by time
};

// Sizes of a corpus that planning needs (read once per distinct data config).
struct CorpusInfo {
  int vocab = 0;
  int64_t train = 0, valid = 0, test = 0;
};

struct SweepSpec {
  std::string path;      // the spec file
  std::string base_dir;  // its directory: relative data paths are resolved against it
  std::string text;      // the spec file's full text (stored in the results file)
  SweepSettings settings;
  std::vector<RunConfig> runs;                // expanded, unique by run id, in spec order
  std::vector<std::string> ids;               // run_id(runs[i]), computed once
  std::map<std::string, CorpusInfo> corpora;  // by data-config key (see data_key)
};

// Reads, validates and expands a sweep spec. `overrides` are "section.key=value" strings applied
// to [sweep] or [defaults] ("sweep.threads_per_rank=2", "train.epochs=1"). Loads each distinct
// corpus once to check it and to size budgets. Throws SpecError listing every issue found.
SweepSpec load_sweep_spec(const std::string& path, const std::vector<std::string>& overrides = {});

// Key identifying a data config (canonical JSON of the data section).
std::string data_key(const DataConfig& d);

// The planned cost of a run: parameters and FLOPs under each convention, from its config and
// corpus sizes, before it runs (what a finished run did is in its TrainResult).
struct PlannedCost {
  int64_t params = 0, params_non_embedding = 0;
  int64_t windows = 0, train_tokens = 0, train_targets = 0;
  double flops_study = 0, flops_kaplan = 0, flops_exact = 0;
  double eval_flops = 0;  // forward FLOPs of all validations and the test
  double flops(FlopConvention c) const;
};
PlannedCost planned_cost(const RunConfig& cfg, const CorpusInfo& corpus);

// --shard i/n: the deterministic slice of runs whose id hashes to i modulo n (stable when points
// are added to a spec).
bool in_shard(const std::string& run_id, int shard_index, int shard_count);
int shard_of(const std::string& run_id, int shard_count);  // the i of in_shard

}  // namespace tinyfront
