// How long a run trains: the optimizer steps and training windows its budget implies. Used by the
// trainer and, before any run starts, by sweep planning (FLOPs, limits), so it lives below both.
#pragma once

#include <cstdint>

#include "tinyfront/run/config.hpp"

namespace tinyfront {

// Total optimizer steps and training windows the budget of cfg implies for a training split of
// n_train tokens.
struct Budget {
  int64_t steps = 0;
  int64_t windows = 0;
  int64_t steps_per_epoch = 0;
};
Budget training_budget(const RunConfig& cfg, int64_t n_train);

}  // namespace tinyfront
