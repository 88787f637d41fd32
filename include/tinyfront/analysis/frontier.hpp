// Pareto frontiers of loss against cost: the runs that no cheaper-or-equal run beats.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace tinyfront {

// Indices of the frontier points, in order of increasing cost (and so decreasing loss).
//
// Ties, precisely: run i is on the frontier iff no other run j has
//   cost_j <= cost_i and loss_j <  loss_i, or
//   cost_j <  cost_i and loss_j <= loss_i.
// So of several runs with equal cost only the lowest loss can be on it, and a run that merely
// matches the loss of a cheaper run is not. Exact duplicates (equal cost and equal loss) do not
// dominate each other; of those the one with the smallest id is kept (then the smallest index),
// so the result does not depend on input order. Points whose cost or loss is not finite are never
// on the frontier. `ids` may be empty (then ties fall back to the index).
std::vector<size_t> pareto_frontier(const std::vector<double>& cost,
                                    const std::vector<double>& loss,
                                    const std::vector<std::string>& ids);

}  // namespace tinyfront
