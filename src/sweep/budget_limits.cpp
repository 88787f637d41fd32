#include "tinyfront/sweep/budget_limits.hpp"

#include <algorithm>
#include <cstdio>

namespace tinyfront {

double estimate_seconds(const RunConfig& cfg, const CorpusInfo& corpus, double flops_per_second) {
  return estimate_seconds(planned_cost(cfg, corpus), flops_per_second);
}

double estimate_seconds(const PlannedCost& c, double flops_per_second) {
  return (c.flops_exact + c.eval_flops) / (flops_per_second > 0 ? flops_per_second : 2e10);
}

void SweepCost::add(double flops, double hours) {
  runs += 1;
  total_flops += flops;
  largest_run_flops = std::max(largest_run_flops, flops);
  run_hours += hours;
  longest_run_hours = std::max(longest_run_hours, hours);
}

double SweepCost::wall_hours(int workers) const {
  return std::max(run_hours / std::max(1, workers), longest_run_hours);
}

SweepCost sweep_cost(const SweepSpec& spec, const std::vector<RunConfig>& runs,
                     double flops_per_second) {
  SweepCost cost;
  for (const RunConfig& r : runs) {
    const PlannedCost c = planned_cost(r, spec.corpora.at(data_key(r.data)));
    cost.add(c.flops(spec.settings.flops_convention),
             estimate_seconds(c, flops_per_second) / 3600.0);
  }
  return cost;
}

std::vector<std::string> exceeded_limits(const SweepSettings& s, const SweepCost& cost,
                                         int workers) {
  std::vector<std::string> over;
  char buf[256];
  const char* conv = to_string(s.flops_convention);
  if (s.max_total_flops > 0 && cost.total_flops > s.max_total_flops) {
    std::snprintf(buf, sizeof buf, "total %s FLOPs %.3g exceed sweep.max_total_flops %.3g", conv,
                  cost.total_flops, s.max_total_flops);
    over.push_back(buf);
  }
  if (s.max_run_flops > 0 && cost.largest_run_flops > s.max_run_flops) {
    std::snprintf(buf, sizeof buf, "largest run's %s FLOPs %.3g exceed sweep.max_run_flops %.3g",
                  conv, cost.largest_run_flops, s.max_run_flops);
    over.push_back(buf);
  }
  if (s.max_hours > 0 && cost.wall_hours(workers) > s.max_hours) {
    std::snprintf(buf, sizeof buf, "estimated %.2f hours on %d workers exceed sweep.max_hours %.2f",
                  cost.wall_hours(workers), std::max(1, workers), s.max_hours);
    over.push_back(buf);
  }
  return over;
}

}  // namespace tinyfront
