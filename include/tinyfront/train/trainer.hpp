// One training run, start to finish: the training loop, evaluation, early stopping, checkpoints.
#pragma once

#include <functional>
#include <vector>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/train/config.hpp"
#include "tinyfront/train/result.hpp"
#include "tinyfront/util/rng.hpp"

namespace tinyfront {

// Everything needed to continue a run exactly where it stopped (bit for bit, same thread count).
struct TrainState {
  int64_t step = 0;          // optimizer steps done
  int64_t windows_done = 0;  // training windows consumed
  int64_t evals_since_best = 0;
  double best_val = 0;  // +inf until the first evaluation
  int64_t best_step = -1;
  double loss_sum = 0;  // training loss accumulated since the last evaluation
  int64_t loss_count = 0;
  double train_seconds = 0;  // training time before this session (not part of identity)
  Rng data_rng, dropout_rng;
  std::vector<float> params, adam_m, adam_v, best_params;
  std::vector<CurvePoint> curve;
};

struct TrainHooks {
  // Called after each evaluation (progress reporting).
  std::function<void(const CurvePoint&, int64_t total_steps)> on_eval;
  // Polled between steps; returning true stops the run with status preempted after a checkpoint.
  std::function<bool()> should_stop;
  // Receives checkpoints: every checkpoint_steps steps / checkpoint_seconds seconds (0 = never),
  // and when should_stop() fires.
  std::function<void(const TrainState&)> on_checkpoint;
  int64_t checkpoint_steps = 0;
  double checkpoint_seconds = 0;
  // Receives the final parameters (the best-validation ones when restore_best) of a finished run.
  std::function<void(const std::vector<float>&)> on_final_params;
};

// Total optimizer steps and training windows the budget of cfg implies for a training split of
// n_train tokens.
struct Budget {
  int64_t steps = 0;
  int64_t windows = 0;
  int64_t steps_per_epoch = 0;
};
Budget training_budget(const RunConfig& cfg, int64_t n_train);

// Trains cfg on corpus. Never throws for a run that diverges (status diverged); throws
// tinyfront::Error for input that makes the run impossible (context longer than a split, ...).
// `resume` continues from a checkpoint.
TrainResult train_run(const RunConfig& cfg, const Corpus& corpus, const TrainHooks& hooks = {},
                      const TrainState* resume = nullptr);

// Checks that the corpus can feed cfg (splits longer than the context, ...). Throws Error.
void check_corpus_fits(const RunConfig& cfg, const Corpus& corpus);

// Learning rate at a step (warm-up then constant or cosine).
double learning_rate(const TrainConfig& t, int64_t step, int64_t total_steps);

}  // namespace tinyfront
