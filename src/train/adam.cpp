#include "tinyfront/train/adam.hpp"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

namespace tinyfront {

void adam_update(std::vector<float>& params, const std::vector<float>& grads, std::vector<float>& m,
                 std::vector<float>& v, const std::vector<ParamTensor>& tensors,
                 const AdamConfig& cfg, int64_t t) {
  const float b1 = float(cfg.beta1), b2 = float(cfg.beta2), eps = float(cfg.eps);
  const float lr = float(cfg.lr);
  const float c1 = float(1.0 / (1.0 - std::pow(cfg.beta1, double(t))));
  const float c2 = float(1.0 / (1.0 - std::pow(cfg.beta2, double(t))));
  // One parallel region for all tensors; each thread updates its share of every tensor.
#pragma omp parallel
  {
    const long parts = omp_get_num_threads(), me = omp_get_thread_num();
    // std::sqrt in a loop keeps GCC from vectorising it (errno), so the square roots of a block
    // are taken by Eigen, on a whole aligned block every time: Eigen's vectorised sqrt is not
    // exactly rounded (EIGEN_FAST_MATH), so every element must go through the same, vectorised,
    // path for results not to depend on where a tensor starts in memory.
    constexpr long kBlock = 256;
    alignas(64) float root[kBlock];
    Eigen::Map<Eigen::Array<float, kBlock, 1>, Eigen::Aligned64> roots(root);
    for (const ParamTensor& pt : tensors) {
      const float decay = pt.decay ? float(cfg.lr * cfg.weight_decay) : 0.0f;
      const long n = pt.size(), lo = n * me / parts, hi = n * (me + 1) / parts;
      float* p = params.data() + pt.offset;
      const float* g = grads.data() + pt.offset;
      float* mm = m.data() + pt.offset;
      float* vv = v.data() + pt.offset;
      for (long i0 = lo; i0 < hi; i0 += kBlock) {
        const long nb = std::min(kBlock, hi - i0);
        for (long i = i0; i < i0 + nb; ++i) {
          mm[i] = b1 * mm[i] + (1 - b1) * g[i];
          vv[i] = b2 * vv[i] + (1 - b2) * g[i] * g[i];
        }
        for (long j = 0; j < nb; ++j) root[j] = vv[i0 + j] * c2;
        for (long j = nb; j < kBlock; ++j) root[j] = 1.0f;
        roots = roots.sqrt();
        for (long i = i0; i < i0 + nb; ++i) {
          const float mhat = mm[i] * c1;
          p[i] -= lr * mhat / (root[i - i0] + eps) + decay * p[i];
        }
      }
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
