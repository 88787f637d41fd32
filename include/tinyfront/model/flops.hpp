// FLOP accounting under three conventions (see docs/flops.md):
//   study  : 2 x P x window tokens        (the study's; P = all parameters)
//   kaplan : 6 x N x predicted tokens     (Kaplan et al.; N = non-embedding parameters)
//   exact  : the FLOPs this implementation performs per window in forward and backward, counted
//            per layer on the rows it actually computes (a multiply-add is 2; softmax, LayerNorm
//            and activations at their elementwise cost; causal attention without the upper
//            triangle; under the paper protocol, the last block for the last position only).
#pragma once

#include <cstdint>

#include "tinyfront/model/config.hpp"

namespace tinyfront {

// Exact forward + backward FLOPs for ONE training window of cfg.context tokens under protocol.
double exact_flops_per_window(const ModelConfig& cfg, Protocol protocol);
// Forward-only FLOPs for one window (evaluation).
double exact_forward_flops_per_window(const ModelConfig& cfg, Protocol protocol);

// The training FLOPs of `windows` windows under the three conventions: the one formula, used by
// the trainer for what a run did and by the spec's planning for what it will do. `params` and
// `params_non_embedding` are the model's parameter counts (count_params and the same less
// count_embedding_params).
struct TrainingFlops {
  double study = 0;   // 2 x params x window tokens
  double kaplan = 0;  // 6 x non-embedding params x predicted tokens
  double exact = 0;   // exact_flops_per_window x windows
};
TrainingFlops training_flops(const ModelConfig& cfg, Protocol protocol, int64_t params,
                             int64_t params_non_embedding, int64_t windows);

}  // namespace tinyfront
