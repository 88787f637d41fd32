#include "tinyfront/train/adam.hpp"

#include <cmath>

namespace tinyfront {

void adam_update(std::vector<float>& params, const std::vector<float>& grads, std::vector<float>& m,
                 std::vector<float>& v, const std::vector<ParamTensor>& tensors,
                 const AdamConfig& cfg, int64_t t) {
  const float b1 = float(cfg.beta1), b2 = float(cfg.beta2), eps = float(cfg.eps);
  const float lr = float(cfg.lr);
  const float c1 = float(1.0 / (1.0 - std::pow(cfg.beta1, double(t))));
  const float c2 = float(1.0 / (1.0 - std::pow(cfg.beta2, double(t))));
  for (const ParamTensor& pt : tensors) {
    const float decay = pt.decay ? float(cfg.lr * cfg.weight_decay) : 0.0f;
    float* p = params.data() + pt.offset;
    const float* g = grads.data() + pt.offset;
    float* mm = m.data() + pt.offset;
    float* vv = v.data() + pt.offset;
    const long n = pt.size();
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) {
      mm[i] = b1 * mm[i] + (1 - b1) * g[i];
      vv[i] = b2 * vv[i] + (1 - b2) * g[i] * g[i];
      float mhat = mm[i] * c1, vhat = vv[i] * c2;
      p[i] -= lr * mhat / (std::sqrt(vhat) + eps) + decay * p[i];
    }
  }
}

double grad_norm(const std::vector<float>& grads) {
  constexpr long kChunks = 64;
  const long n = long(grads.size());
  double partial[kChunks] = {};
#pragma omp parallel for schedule(static)
  for (long c = 0; c < kChunks; ++c) {
    long lo = n * c / kChunks, hi = n * (c + 1) / kChunks;
    double s = 0;
    for (long i = lo; i < hi; ++i) s += double(grads[i]) * grads[i];
    partial[c] = s;
  }
  double s = 0;
  for (double p : partial) s += p;
  return std::sqrt(s);
}

}  // namespace tinyfront
