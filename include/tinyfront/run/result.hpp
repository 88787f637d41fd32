// What a training run produces.
#pragma once

#include <cstdint>
#include <string>
#include <vector>
#include "tinyfront/run/flop_convention.hpp"
#include "tinyfront/util/enum_names.hpp"

namespace tinyfront {

enum class RunStatus { pending, running, done, diverged, failed, preempted };
constexpr auto enum_names(RunStatus) {
  return std::to_array<EnumName<RunStatus>>({{RunStatus::pending, "pending"},
                                             {RunStatus::running, "running"},
                                             {RunStatus::done, "done"},
                                             {RunStatus::diverged, "diverged"},
                                             {RunStatus::failed, "failed"},
                                             {RunStatus::preempted, "preempted"}});
}

// One evaluation point of the learning curve.
struct CurvePoint {
  int64_t step = 0;
  int64_t tokens = 0;     // training window tokens seen so far (windows x T)
  double train_loss = 0;  // mean training loss since the previous point
  double val_loss = 0;    // validation NLL (nats/token)
  double lr = 0;
  double seconds = 0;  // wall time since the run started
};

struct TrainResult {
  RunStatus status = RunStatus::pending;
  std::string message;  // why a run failed or diverged
  int64_t params = 0;
  int64_t params_non_embedding = 0;
  int64_t steps = 0;
  int64_t train_windows = 0;  // windows trained on
  int64_t train_tokens = 0;   // window tokens: windows x T (the study's "tokens")
  int64_t train_targets = 0;  // predicted tokens (paper: windows; causal: windows x T)
  double flops_study = 0;     // 2 x params x train_tokens
  double flops_kaplan = 0;    // 6 x non-embedding params x train_targets
  double flops_exact = 0;     // counted multiply-adds x 2 of forward + backward, all steps
  double flops(FlopConvention c) const {
    return c == FlopConvention::study    ? flops_study
           : c == FlopConvention::kaplan ? flops_kaplan
                                         : flops_exact;
  }
  double best_val_nll = 0;
  int64_t best_val_step = 0;
  double test_nll = 0;  // nats/token
  double test_ppl = 0;
  double test_bpc = 0;  // bits per character (character corpora; 0 otherwise)
  double wall_seconds = 0;
  double tokens_per_second = 0;  // train_tokens / training seconds
  std::vector<CurvePoint> curve;
};

}  // namespace tinyfront
