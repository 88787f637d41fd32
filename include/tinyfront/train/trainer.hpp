// One training run, start to finish: the training loop, evaluation, early stopping, checkpoints.
#pragma once

#include <functional>
#include <vector>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/run/budget.hpp"
#include "tinyfront/run/config.hpp"
#include "tinyfront/run/result.hpp"
#include "tinyfront/run/train_state.hpp"

namespace tinyfront {

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
