// What a run will cost, planned from its config and corpus sizes (sweep_spec.hpp).
#include <algorithm>

#include "tinyfront/model/flops.hpp"
#include "tinyfront/model/model.hpp"
#include "tinyfront/run/budget.hpp"
#include "tinyfront/spec/sweep_spec.hpp"

namespace tinyfront {

double PlannedCost::flops(FlopConvention c) const {
  return c == FlopConvention::study    ? flops_study
         : c == FlopConvention::kaplan ? flops_kaplan
                                       : flops_exact;
}

PlannedCost planned_cost(const RunConfig& cfg_in, const CorpusInfo& corpus) {
  RunConfig cfg = cfg_in;
  cfg.model.vocab = corpus.vocab;
  PlannedCost c;
  c.params = count_params(cfg.model);
  c.params_non_embedding = c.params - count_embedding_params(cfg.model);
  Budget b = training_budget(cfg, corpus.train);
  const int64_t T = cfg.model.context;
  const int tpw = targets_per_window(cfg.model, cfg.train.protocol);
  c.windows = b.windows;
  c.train_tokens = b.windows * T;
  c.train_targets = b.windows * tpw;
  const TrainingFlops f =
      training_flops(cfg.model, cfg.train.protocol, c.params, c.params_non_embedding, b.windows);
  c.flops_study = f.study, c.flops_kaplan = f.kaplan, c.flops_exact = f.exact;
  // Evaluation windows: validations (one per epoch or eval_every) plus one test pass.
  const TrainConfig& t = cfg.train;
  auto eval_windows = [&](int64_t n, int64_t cap) {
    int64_t w = tpw == 1 ? n - T : (n - 1) / T;
    return cap > 0 ? std::min(w, cap) : w;
  };
  int64_t evals = t.eval_every > 0                ? (b.steps + t.eval_every - 1) / t.eval_every
                  : t.protocol == Protocol::paper ? t.epochs
                                                  : std::min<int64_t>(10, b.steps);
  double fwd = exact_forward_flops_per_window(cfg.model, cfg.train.protocol);
  c.eval_flops =
      fwd * double(evals * eval_windows(corpus.valid, t.eval_windows) +
                   eval_windows(corpus.test, t.protocol == Protocol::paper ? t.eval_windows : 0));
  return c;
}

}  // namespace tinyfront
