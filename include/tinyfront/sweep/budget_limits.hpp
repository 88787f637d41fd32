// What a set of runs will cost, and the spec's limits on it (sweep.max_total_flops,
// sweep.max_run_flops, sweep.max_hours): one check, shared by `plan`, `sweep` and `submit`, so that
// the three agree on what stops a sweep before it starts.
#pragma once

#include <string>
#include <vector>

#include "tinyfront/spec/sweep_spec.hpp"

namespace tinyfront {

// Estimated seconds of a run at a given FLOP rate (training + evaluation, exact FLOPs; a rate of
// 0 means the default of 2e10 FLOP/s).
double estimate_seconds(const RunConfig& cfg, const CorpusInfo& corpus, double flops_per_second);
// The same from a run's cost, when it is already at hand (plan computes it once per run).
double estimate_seconds(const PlannedCost& cost, double flops_per_second);

struct SweepCost {
  int runs = 0;
  double total_flops = 0;        // under the spec's sweep.flops_convention
  double largest_run_flops = 0;  // same convention
  double run_hours = 0;          // estimated, summed over the runs
  double longest_run_hours = 0;

  // Counts one run of `flops` (spec's convention) and `hours` (estimated).
  void add(double flops, double hours);
  // Estimated wall time on `workers` workers: the work spread over them, and never less than
  // the longest run.
  double wall_hours(int workers) const;
};

SweepCost sweep_cost(const SweepSpec& spec, const std::vector<RunConfig>& runs,
                     double flops_per_second);

// The limits of `settings` that `cost` exceeds on `workers` workers, one sentence each with the
// numbers, e.g. "total study FLOPs 1.2e+13 exceed sweep.max_total_flops 1e+12". Empty: none.
std::vector<std::string> exceeded_limits(const SweepSettings& settings, const SweepCost& cost,
                                         int workers);

}  // namespace tinyfront
