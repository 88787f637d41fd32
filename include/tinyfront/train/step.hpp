// One optimisation step: zero the gradients, forward, backward, clip, Adam. The trainer, the
// benchmark and the calibration all train with this one function, so what they time is what a
// run computes.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "tinyfront/model/model.hpp"
#include "tinyfront/train/adam.hpp"
#include "tinyfront/util/rng.hpp"

namespace tinyfront {

struct StepConfig {
  AdamConfig adam;       // adam.lr is this step's learning rate
  double grad_clip = 0;  // scale the gradient down to this global L2 norm (0: never)
  // A loss above this (or not finite) means the run diverged: the step stops after the forward
  // pass and leaves the parameters and moments as they were.
  double diverge_loss = std::numeric_limits<double>::infinity();
};

struct StepResult {
  float loss = 0;         // mean training loss of the batch (before the update)
  bool diverged = false;  // see StepConfig::diverge_loss
};

// Trains m on one batch: inputs [batch, T], targets as model_forward takes them. Dropout draws
// its key from dropout_rng. adam_m and adam_v are the moments (one value per parameter), t the
// 1-based step number (Adam's bias correction).
StepResult train_step(Model<float>& m, const int32_t* inputs, const int32_t* targets, int batch,
                      Rng& dropout_rng, std::vector<float>& adam_m, std::vector<float>& adam_v,
                      const StepConfig& cfg, int64_t t);

}  // namespace tinyfront
