#include "tinyfront/train/step.hpp"

#include <cmath>

namespace tinyfront {

StepResult train_step(Model<float>& m, const int32_t* inputs, const int32_t* targets, int batch,
                      Rng& dropout_rng, std::vector<float>& adam_m, std::vector<float>& adam_v,
                      const StepConfig& cfg, int64_t t) {
  StepResult r;
  model_zero_grad(m);
  r.loss = model_forward<float>(m, inputs, targets, batch, true, &dropout_rng);
  if (!std::isfinite(r.loss) || r.loss > cfg.diverge_loss) {
    r.diverged = true;
    return r;
  }
  model_backward(m);
  if (cfg.grad_clip > 0) {
    double norm = grad_norm(m.grads);
    if (norm > cfg.grad_clip) {
      float s = float(cfg.grad_clip / (norm + 1e-6));
      for (float& g : m.grads) g *= s;
    }
  }
  adam_update(m.params, m.grads, adam_m, adam_v, m.tensors, cfg.adam, t);
  return r;
}

}  // namespace tinyfront
