// The early-stopping rules of halving sweeps on hand-made curves (issue 16): a dominated run is
// stopped, a cheap run with a high loss that is on the frontier at its cost is kept, ties,
// one-point curves, NaN curves; the power-law extrapolation; ASHA's loss rule.
#include <gtest/gtest.h>

#include <cmath>

#include "tinyfront/search/frontier_rule.hpp"

using namespace tinyfront::search;

namespace {

// Points of L(t) = c + a t^-b at the given fractions.
std::vector<RungPoint> law(double c, double a, double b, std::vector<double> fractions) {
  std::vector<RungPoint> out;
  for (double f : fractions) out.push_back({f, c + a * std::pow(f, -b)});
  return out;
}

}  // namespace

TEST(FrontierRule, PowerLawExtrapolationIsALowerBoundOfTheTrueFinal) {
  // Exact points: the best fit recovers L(1) = c + a; the optimistic reading is not above it.
  const auto pts = law(1.5, 0.4, 0.5, {0.1, 0.2, 0.3});
  const SaturatingFit f = fit_saturating_power_law(pts);
  ASSERT_TRUE(f.ok);
  EXPECT_NEAR(f.best, 1.9, 0.01);
  EXPECT_LE(f.lower, 1.9 + 1e-9);
  EXPECT_GT(f.lower, 1.0);  // optimistic, not absurd
  // Not above the last point even when the points rise (an over-fitting curve).
  const SaturatingFit up = fit_saturating_power_law({{0.1, 2.0}, {0.2, 2.1}, {0.3, 2.2}});
  ASSERT_TRUE(up.ok);
  EXPECT_LE(up.lower, 2.2);
  // Two points: no fit.
  EXPECT_FALSE(fit_saturating_power_law(law(1.5, 0.4, 0.5, {0.1, 0.3})).ok);
}

TEST(FrontierRule, DominatedRunIsStopped) {
  // r: expensive (cost 100), its curve flattens near 2.3. A finished run of cost 10 reached 2.0.
  const auto curve = law(2.25, 0.05, 0.7, {0.1, 0.2, 0.3});
  const Decision d = judge_frontier(100, curve, {{10, 2.0}, {1000, 1.5}}, 0.02, -1);
  EXPECT_TRUE(d.stop) << d.reason;
  EXPECT_NE(d.reason.find("cost 10 <= 100"), std::string::npos) << d.reason;
  EXPECT_NE(d.reason.find("2.0000"), std::string::npos) << d.reason;
}

TEST(FrontierRule, CheapRunWithHighLossOnTheFrontierIsKept) {
  // r is the cheapest run: only more expensive runs have finished, all far better. ASHA would
  // stop it (worst loss); the frontier rule must not: nothing cheaper beats it.
  const auto curve = law(3.0, 0.3, 0.5, {0.1, 0.2, 0.3});
  const Decision d = judge_frontier(5, curve, {{10, 2.0}, {100, 1.8}, {1000, 1.5}}, 0.02, -1);
  EXPECT_FALSE(d.stop) << d.reason;
  EXPECT_NE(d.reason.find("no finished run at no more than its cost"), std::string::npos);
  // The same losses under the loss rule: the worst of three is stopped.
  const std::vector<bool> keep = judge_loss({3.0, 2.0, 1.8}, 3);
  EXPECT_EQ(keep, (std::vector<bool>{false, false, true}));
}

TEST(FrontierRule, RunThatCanStillBeatTheCheaperRunsContinues) {
  // Finished run at cost 10 reached 2.0; r's curve still falls steeply towards ~1.7.
  const auto curve = law(1.5, 0.25, 0.6, {0.1, 0.2, 0.3});
  const Decision d = judge_frontier(100, curve, {{10, 2.0}}, 0.02, -1);
  EXPECT_FALSE(d.stop) << d.reason;
  EXPECT_LT(d.optimistic_nll, 2.0);
}

TEST(FrontierRule, TiesAreNotDomination) {
  // Equal cost counts (C_q <= C_r); an NLL exactly at optimistic - margin does not ("below").
  const std::vector<RungPoint> flat{{0.1, 2.5}, {0.2, 2.5}, {0.3, 2.5}};
  const Decision at = judge_frontier(100, flat, {{100, 2.48}}, 0.02, -1);
  EXPECT_NEAR(at.optimistic_nll, 2.5, 1e-12);
  EXPECT_FALSE(at.stop) << at.reason;
  const Decision below = judge_frontier(100, flat, {{100, 2.4799}}, 0.02, -1);
  EXPECT_TRUE(below.stop) << below.reason;
  // A finished run that cost a little more never counts.
  EXPECT_FALSE(judge_frontier(100, flat, {{100.0001, 1.0}}, 0.02, -1).stop);
  // Loss rule: equal losses keep the earlier arrival.
  EXPECT_EQ(judge_loss({2.0, 2.0, 2.0}, 3), (std::vector<bool>{true, false, false}));
  EXPECT_EQ(judge_loss({2.0, 2.0, 2.0, 2.0}, 3), (std::vector<bool>{true, true, false, false}));
}

TEST(FrontierRule, OnePointCurvesUseWhatFinishedRunsLearned) {
  // Finished runs of the architecture improved by at most 10% after 10% of their budget.
  const std::vector<std::vector<RungPoint>> finished_curves{
      {{0.1, 3.0}, {0.5, 2.8}, {1.0, 2.7}},   // 10% better at the end
      {{0.1, 2.5}, {0.5, 2.45}, {1.0, 2.4}},  // 4%
  };
  const double improvement = largest_relative_improvement(finished_curves, 0.1);
  EXPECT_NEAR(improvement, 0.1, 1e-12);
  // r at 0.1: 3.0, so at best 2.7. A cheaper finished run at 2.6 dominates; one at 2.7 does not.
  const std::vector<RungPoint> one{{0.1, 3.0}};
  const Decision stop = judge_frontier(100, one, {{50, 2.6}}, 0.02, improvement);
  EXPECT_TRUE(stop.stop) << stop.reason;
  EXPECT_NEAR(stop.optimistic_nll, 2.7, 1e-12);
  EXPECT_FALSE(judge_frontier(100, one, {{50, 2.7}}, 0.02, improvement).stop);
  // Nothing learned yet: a one-point curve always continues.
  const Decision unknown = judge_frontier(100, one, {{50, 0.1}}, 0.02, -1);
  EXPECT_FALSE(unknown.stop);
  EXPECT_NE(unknown.reason.find("too few points"), std::string::npos);
  EXPECT_LT(largest_relative_improvement({}, 0.1), 0);
}

TEST(FrontierRule, NaNCurvesAndNaNLosses) {
  const double nan = std::nan("");
  // Every value NaN: a diverged run, stopped, saying so.
  const Decision d = judge_frontier(100, {{0.1, nan}, {0.2, nan}}, {}, 0.02, -1);
  EXPECT_TRUE(d.stop);
  EXPECT_NE(d.reason.find("diverged"), std::string::npos);
  EXPECT_TRUE(std::isnan(d.optimistic_nll));
  // NaN points among finite ones are ignored: the fit sees three finite points.
  auto pts = law(2.25, 0.05, 0.7, {0.1, 0.2, 0.3});
  pts.insert(pts.begin() + 1, {0.15, nan});
  EXPECT_TRUE(judge_frontier(100, pts, {{10, 2.0}}, 0.02, -1).stop);
  // A finished run with a NaN best never dominates.
  EXPECT_FALSE(
      judge_frontier(100, law(2.25, 0.05, 0.7, {0.1, 0.2, 0.3}), {{10, nan}}, 0.02, -1).stop);
  // Loss rule: NaN never continues, even when it would fit in the quota.
  EXPECT_EQ(judge_loss({nan, 2.0}, 1), (std::vector<bool>{false, true}));
  EXPECT_TRUE(judge_loss({}, 3).empty());
}
