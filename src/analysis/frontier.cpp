#include "tinyfront/analysis/frontier.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "tinyfront/util/error.hpp"

namespace tinyfront {

std::vector<size_t> pareto_frontier(const std::vector<double>& cost,
                                    const std::vector<double>& loss,
                                    const std::vector<std::string>& ids) {
  if (cost.size() != loss.size() || (!ids.empty() && ids.size() != cost.size()))
    throw Error("pareto_frontier: cost, loss and ids must have equal lengths");
  std::vector<size_t> order;
  order.reserve(cost.size());
  for (size_t i = 0; i < cost.size(); ++i)
    if (std::isfinite(cost[i]) && std::isfinite(loss[i])) order.push_back(i);
  // Cheapest first; at equal cost the lowest loss first; then the deterministic tie-break.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (cost[a] != cost[b]) return cost[a] < cost[b];
    if (loss[a] != loss[b]) return loss[a] < loss[b];
    if (!ids.empty() && ids[a] != ids[b]) return ids[a] < ids[b];
    return a < b;
  });
  // Sweep: the first run of each equal-cost group has that group's lowest loss; it is on the
  // frontier iff it beats (strictly) every strictly cheaper run. The rest of the group is
  // dominated by it, or duplicates it and loses the tie-break.
  std::vector<size_t> frontier;
  double best_cheaper = std::numeric_limits<double>::infinity();
  for (size_t k = 0; k < order.size();) {
    const size_t first = order[k];
    if (loss[first] < best_cheaper) {
      frontier.push_back(first);
      best_cheaper = loss[first];
    }
    while (k < order.size() && cost[order[k]] == cost[first]) ++k;
  }
  return frontier;
}

}  // namespace tinyfront
