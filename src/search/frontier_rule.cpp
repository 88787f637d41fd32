#include "tinyfront/search/frontier_rule.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>

namespace tinyfront::search {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Validation NLLs are measured on a sample of windows: fits within this much noise per point
// (nats) of the best fit are as plausible as the best one.
constexpr double kEvalNoise = 0.005;

std::vector<RungPoint> finite_points(const std::vector<RungPoint>& curve) {
  std::vector<RungPoint> out;
  for (const RungPoint& p : curve)
    if (std::isfinite(p.val_nll) && std::isfinite(p.fraction) && p.fraction > 0) out.push_back(p);
  std::sort(out.begin(), out.end(),
            [](const RungPoint& x, const RungPoint& y) { return x.fraction < y.fraction; });
  return out;
}

std::string fmt(double v, const char* f = "%.4g") {
  char buf[40];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

}  // namespace

SaturatingFit fit_saturating_power_law(const std::vector<RungPoint>& curve) {
  SaturatingFit out;
  const std::vector<RungPoint> pts = finite_points(curve);
  int distinct = 0;
  for (size_t i = 0; i < pts.size(); ++i)
    distinct += i == 0 || pts[i].fraction != pts[i - 1].fraction;
  if (distinct < 3) return out;  // three parameters: fewer points determine nothing
  const double n = double(pts.size());
  // For a fixed exponent b the law is linear in (c, a): least squares in closed form, a >= 0
  // (a validation curve that rises is read as flat). b on a log grid from 0.01 to 4.
  struct Candidate {
    double b, c, a, sse;
  };
  std::vector<Candidate> cands;
  for (int k = 0; k <= 80; ++k) {
    const double b = 0.01 * std::pow(400.0, k / 80.0);
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (const RungPoint& p : pts) {
      const double x = std::pow(p.fraction, -b);
      sx += x, sy += p.val_nll, sxx += x * x, sxy += x * p.val_nll;
    }
    const double det = n * sxx - sx * sx;
    double a = det > 1e-300 ? (n * sxy - sx * sy) / det : 0;
    if (a < 0) a = 0;
    const double c = (sy - a * sx) / n;
    double sse = 0;
    for (const RungPoint& p : pts) {
      const double r = c + a * std::pow(p.fraction, -b) - p.val_nll;
      sse += r * r;
    }
    cands.push_back({b, c, a, sse});
  }
  const auto best =
      std::min_element(cands.begin(), cands.end(), [](auto& x, auto& y) { return x.sse < y.sse; });
  out.ok = true;
  out.b = best->b, out.c = best->c, out.a = best->a;
  out.best = best->c + best->a;
  out.lower = out.best;
  const double allowed = best->sse + n * kEvalNoise * kEvalNoise;
  for (const Candidate& k : cands)
    if (k.sse <= allowed) out.lower = std::min(out.lower, k.c + k.a);
  // Never more optimistic than zero loss, never less than what the run already reached.
  out.lower = std::max(0.0, std::min(out.lower, pts.back().val_nll));
  return out;
}

double largest_relative_improvement(const std::vector<std::vector<RungPoint>>& finished_curves,
                                    double fraction) {
  double largest = -1;
  for (const auto& curve : finished_curves) {
    const std::vector<RungPoint> pts = finite_points(curve);
    if (pts.empty()) continue;
    // The curve's value at `fraction`: the last point at or before it.
    const RungPoint* at = nullptr;
    for (const RungPoint& p : pts)
      if (p.fraction <= fraction + 1e-12) at = &p;
    if (!at || at->val_nll <= 0) continue;
    double final_best = at->val_nll;
    for (const RungPoint& p : pts) final_best = std::min(final_best, p.val_nll);
    largest = std::max(largest, (at->val_nll - final_best) / at->val_nll);
  }
  return largest;
}

Decision judge_frontier(double planned_cost, const std::vector<RungPoint>& curve,
                        const std::vector<FinishedRun>& finished, double margin,
                        double fallback_improvement) {
  Decision d;
  const std::vector<RungPoint> pts = finite_points(curve);
  if (pts.empty()) {
    d.stop = true;
    d.optimistic_nll = kNaN;
    d.reason = "no finite validation NLL (diverged)";
    return d;
  }
  const SaturatingFit fit = fit_saturating_power_law(pts);
  if (fit.ok) {
    d.optimistic_nll = fit.lower;
  } else if (fallback_improvement >= 0) {
    d.optimistic_nll = pts.back().val_nll * (1 - fallback_improvement);
  } else {
    // Too short a curve and nothing to learn from: nothing says the run cannot reach the
    // frontier, so it continues.
    d.optimistic_nll = -std::numeric_limits<double>::infinity();
    d.reason = "continue: too few points to extrapolate and no finished run to learn from";
    return d;
  }
  // The best finished run at no more than r's cost.
  const FinishedRun* dominating = nullptr;
  for (const FinishedRun& q : finished) {
    if (!(q.cost <= planned_cost) || !std::isfinite(q.best_val_nll)) continue;
    if (!dominating || q.best_val_nll < dominating->best_val_nll) dominating = &q;
  }
  if (dominating && dominating->best_val_nll < d.optimistic_nll - margin) {
    d.stop = true;
    d.reason = "a finished run of cost " + fmt(dominating->cost) + " <= " + fmt(planned_cost) +
               " reached " + fmt(dominating->best_val_nll, "%.4f") +
               ", below this run's optimistic final " + fmt(d.optimistic_nll, "%.4f") +
               " minus the margin " + fmt(margin);
  } else {
    d.reason = dominating ? "continue: the best finished run at no more than its cost reached " +
                                fmt(dominating->best_val_nll, "%.4f") + ", optimistic final " +
                                fmt(d.optimistic_nll, "%.4f")
                          : "continue: no finished run at no more than its cost";
  }
  return d;
}

std::vector<bool> judge_loss(const std::vector<double>& rung_nll, double eta) {
  const size_t n = rung_nll.size();
  std::vector<bool> keep(n, false);
  if (n == 0) return keep;
  const size_t quota = size_t(std::ceil(double(n) / std::max(1.0, eta)));
  std::vector<size_t> order;
  for (size_t i = 0; i < n; ++i)
    if (std::isfinite(rung_nll[i])) order.push_back(i);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return rung_nll[x] < rung_nll[y]; });
  for (size_t k = 0; k < order.size() && k < quota; ++k) keep[order[k]] = true;
  return keep;
}

}  // namespace tinyfront::search
