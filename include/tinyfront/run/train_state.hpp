// A run's resumable state: everything needed to continue it exactly where it stopped (bit for
// bit, same thread count). The trainer produces and consumes it; checkpoint files and MPI
// messages carry it (run/state_io.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "tinyfront/run/result.hpp"
#include "tinyfront/util/rng.hpp"

namespace tinyfront {

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

}  // namespace tinyfront
