// When may a run of a halving sweep be stopped early? Two rules, judged at a rung (a fraction of
// the run's own budget), from the run's validation curve so far and the runs already finished.
//
// The frontier rule (docs/search.md): a run r whose planned final cost is C_r is stopped only if
// it can no longer reach the accuracy-vs-compute frontier: some finished run q of the same slice
// (dataset and protocol) with C_q <= C_r already has a best validation NLL below r's optimistic
// final validation NLL minus a margin. Cheap runs are never judged against more expensive ones,
// so the low-cost end of the frontier survives however high its losses are.
//
// r's optimistic final NLL comes from its own curve: a saturating power law
// L(t) = c + a t^-b (t = fraction of the budget) fitted to its points, read at t = 1 as a lower
// bound over every exponent b that fits about as well as the best. With fewer than three points,
// it is the last value lowered by the largest relative improvement finished runs of the same
// architecture made over the rest of their budget from the same fraction.
//
// The loss rule is plain ASHA, for comparison: the best 1/eta of the runs judged at a rung (by
// validation NLL) continue, the rest stop.
#pragma once

#include <string>
#include <vector>

namespace tinyfront::search {

// One validation point of a run: where (fraction of its own budget, in (0, 1]) and the NLL.
struct RungPoint {
  double fraction = 0;
  double val_nll = 0;
};

// L(t) = c + a t^-b fitted to points; `lower` is the smallest L(1) among the exponents whose fit
// is within tolerance of the best one (the optimistic reading), `best` the best fit's L(1).
struct SaturatingFit {
  bool ok = false;
  double c = 0, a = 0, b = 0;
  double best = 0, lower = 0;
};
SaturatingFit fit_saturating_power_law(const std::vector<RungPoint>& points);

// A finished run of the slice: its final cost (in the sweep's FLOP convention) and its best
// validation NLL.
struct FinishedRun {
  double cost = 0;
  double best_val_nll = 0;
};

// How much finished runs of the same architecture improved after a given fraction of their
// budget: (NLL at that fraction - final best NLL) / NLL at that fraction, the largest seen.
// Negative when none is known (the rule then never stops on a short curve).
double largest_relative_improvement(const std::vector<std::vector<RungPoint>>& finished_curves,
                                    double fraction);

struct Decision {
  bool stop = false;
  double optimistic_nll = 0;  // r's optimistic final validation NLL (NaN: none)
  std::string reason;         // why, in words, naming the dominating run's cost and NLL
};

// The frontier rule. `curve` holds r's points so far (NaN values are ignored; a curve with no
// finite value is a diverged run and is stopped); `fallback_improvement` is
// largest_relative_improvement(...) for r's architecture at r's last fraction.
Decision judge_frontier(double planned_cost, const std::vector<RungPoint>& curve,
                        const std::vector<FinishedRun>& finished, double margin,
                        double fallback_improvement);

// The loss rule at one rung: which of the runs judged there (their NLL at the rung) continue.
// The best ceil(n / eta) continue (ties broken by position, the earlier arrival first); NaN
// losses never continue.
std::vector<bool> judge_loss(const std::vector<double>& rung_nll, double eta);

}  // namespace tinyfront::search
