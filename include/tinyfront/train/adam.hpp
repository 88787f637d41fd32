// Adam with decoupled weight decay (AdamW), over the flat parameter buffer.
#pragma once

#include <cstdint>
#include <vector>

#include "tinyfront/model/model.hpp"

namespace tinyfront {

struct AdamConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
};

// One update at step t (1-based, for bias correction). Weight decay only on tensors with decay.
void adam_update(std::vector<float>& params, const std::vector<float>& grads, std::vector<float>& m,
                 std::vector<float>& v, const std::vector<ParamTensor>& tensors,
                 const AdamConfig& cfg, int64_t t);

// Global L2 norm of the gradient, summed in fixed chunks (deterministic for any thread count).
double grad_norm(const std::vector<float>& grads);

}  // namespace tinyfront
