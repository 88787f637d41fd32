// Pareto frontiers: the tie rules of frontier.hpp on hand-made tables.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "tinyfront/analysis/frontier.hpp"

using namespace tinyfront;

static std::vector<std::string> ids_of(const std::vector<size_t>& idx,
                                       const std::vector<std::string>& ids) {
  std::vector<std::string> out;
  for (size_t i : idx) out.push_back(ids[i]);
  return out;
}

TEST(Frontier, HandMadeTableWithTies) {
  //            id     cost   loss
  // a: cheapest                     -> on
  // b: same cost as a, worse        -> off (a has cost <= and loss <)
  // c: costlier, better             -> on
  // d: costlier than c, same loss   -> off (c has cost < and loss <=)
  // e: same cost and loss as f      -> duplicates: the smaller id (e) is kept
  // f:                              -> off (duplicate of e, larger id)
  // g: costlier, worse than e       -> off
  // h: costliest, best              -> on
  const std::vector<std::string> ids{"h", "b", "a", "g", "f", "e", "d", "c"};
  const std::vector<double> cost{100, 1, 1, 60, 50, 50, 20, 10};
  const std::vector<double> loss{1.0, 3.0, 2.5, 1.9, 1.8, 1.8, 2.0, 2.0};
  auto front = pareto_frontier(cost, loss, ids);
  EXPECT_EQ(ids_of(front, ids), (std::vector<std::string>{"a", "c", "e", "h"}));
}

TEST(Frontier, EqualCostKeepsOnlyTheBest) {
  const std::vector<std::string> ids{"x", "y", "z"};
  const std::vector<double> cost{5, 5, 5};
  auto front = pareto_frontier(cost, {2.0, 1.5, 1.7}, ids);
  EXPECT_EQ(ids_of(front, ids), (std::vector<std::string>{"y"}));
  // All three identical: one, the smallest id, whatever the input order.
  const std::vector<std::string> ids2{"r2", "r0", "r1"};
  front = pareto_frontier(cost, {1.0, 1.0, 1.0}, ids2);
  EXPECT_EQ(ids_of(front, ids2), (std::vector<std::string>{"r0"}));
}

TEST(Frontier, InputOrderDoesNotMatter) {
  std::vector<std::string> ids{"a", "b", "c", "d", "e"};
  std::vector<double> cost{1, 2, 2, 3, 4}, loss{5, 4, 4, 4, 1};
  auto f1 = ids_of(pareto_frontier(cost, loss, ids), ids);
  std::reverse(ids.begin(), ids.end());
  std::reverse(cost.begin(), cost.end());
  std::reverse(loss.begin(), loss.end());
  auto f2 = ids_of(pareto_frontier(cost, loss, ids), ids);
  EXPECT_EQ(f1, f2);
  EXPECT_EQ(f1, (std::vector<std::string>{"a", "b", "e"}));
}

TEST(Frontier, NonFiniteValuesAreNeverOnIt) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  const std::vector<std::string> ids{"a", "b", "c", "d"};
  auto front = pareto_frontier({1, 2, nan, 4}, {nan, 3, 0.1, -inf}, ids);
  EXPECT_EQ(ids_of(front, ids), (std::vector<std::string>{"b"}));
  EXPECT_TRUE(pareto_frontier({}, {}, {}).empty());
}

TEST(Frontier, MatchesBruteForceDefinition) {
  // Random small integer grid: many ties of every kind.
  std::vector<double> cost, loss;
  std::vector<std::string> ids;
  uint64_t s = 12345;
  for (int i = 0; i < 300; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    cost.push_back(double((s >> 33) % 12));
    loss.push_back(double((s >> 45) % 9));
    ids.push_back("id" + std::to_string(1000 + i));
  }
  std::vector<size_t> expected;
  for (size_t i = 0; i < cost.size(); ++i) {
    bool dominated = false, duplicate_loser = false;
    for (size_t j = 0; j < cost.size(); ++j) {
      if (j == i) continue;
      if ((cost[j] <= cost[i] && loss[j] < loss[i]) || (cost[j] < cost[i] && loss[j] <= loss[i]))
        dominated = true;
      if (cost[j] == cost[i] && loss[j] == loss[i] && ids[j] < ids[i]) duplicate_loser = true;
    }
    if (!dominated && !duplicate_loser) expected.push_back(i);
  }
  std::sort(expected.begin(), expected.end(),
            [&](size_t a, size_t b) { return cost[a] < cost[b]; });
  EXPECT_EQ(pareto_frontier(cost, loss, ids), expected);
}
