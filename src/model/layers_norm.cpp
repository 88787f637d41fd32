// LayerNorm and dropout (layers.hpp).
#include "tinyfront/model/layers.hpp"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "layers_detail.hpp"

namespace tinyfront::layers {

using namespace detail;

// ---------------------------------------------------------------------------------------------
template <typename S>
void layernorm_forward(S* out, S* mean, S* rstd, const S* inp, const S* gamma, const S* beta, int N,
                       int C) {
  const S eps = S(1e-5);
  for (int n = 0; n < N; ++n) {
    const S* x = inp + (long)n * C;
    const S m = sum_lanes(x, C) / S(C);
    S acc[kLanes] = {}, tail = 0;
    int c = 0;
    for (; c + kLanes <= C; c += kLanes)
      for (int j = 0; j < kLanes; ++j) acc[j] += (x[c + j] - m) * (x[c + j] - m);
    for (; c < C; ++c) tail += (x[c] - m) * (x[c] - m);
    const S v = (combine(acc) + tail) / S(C);
    const S r = S(1) / std::sqrt(v + eps);
    S* o = out + (long)n * C;
    for (c = 0; c < C; ++c) o[c] = (x[c] - m) * r * gamma[c] + beta[c];
    mean[n] = m;
    rstd[n] = r;
  }
}

template <typename S>
void layernorm_backward(S* dinp, S* dgamma, S* dbeta, const S* dout, const S* inp, const S* gamma,
                        const S* mean, const S* rstd, int N, int C, Grad mode) {
  for (int n = 0; n < N; ++n) {
    const S* x = inp + (long)n * C;
    const S* g = dout + (long)n * C;
    const S m = mean[n], r = rstd[n];
    // the two row means of backward, in one pass
    S a1[kLanes] = {}, a2[kLanes] = {}, t1 = 0, t2 = 0;
    int c = 0;
    for (; c + kLanes <= C; c += kLanes)
      for (int j = 0; j < kLanes; ++j) {
        const S xhat = (x[c + j] - m) * r, dnorm = gamma[c + j] * g[c + j];
        a1[j] += dnorm;
        a2[j] += dnorm * xhat;
      }
    for (; c < C; ++c) {
      const S xhat = (x[c] - m) * r, dnorm = gamma[c] * g[c];
      t1 += dnorm;
      t2 += dnorm * xhat;
    }
    const S dnorm_mean = (combine(a1) + t1) / S(C);
    const S dnorm_norm_mean = (combine(a2) + t2) / S(C);
    S* d = dinp + (long)n * C;
#pragma omp simd
    for (c = 0; c < C; ++c) {
      const S xhat = (x[c] - m) * r;
      const S v = (gamma[c] * g[c] - dnorm_mean - xhat * dnorm_norm_mean) * r;
      d[c] = mode == Grad::add ? d[c] + v : v;
      dgamma[c] += g[c] * xhat;
      dbeta[c] += g[c];
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Dropout masks from Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3", SC 2011): the random word of element (row, c) is word c % 4 of Philox(counter = (c / 4,
// row, stream, 0), key). Any row can be drawn by any thread in any order, and the mask does not
// depend on how rows are split between threads. Sixteen counters are computed side by side so
// that the compiler vectorises the rounds (32 x 32 -> 64-bit products).

uint32_t dropout_threshold(double p) {
  // drop when the word is below p * 2^32 (p < 1, so the product fits)
  return uint32_t(std::min(4294967295.0, std::floor(p * 4294967296.0)));
}

void dropout_mask_row(uint32_t* bits, int C, uint64_t row, uint32_t stream, uint64_t key,
                      uint32_t threshold) {
  constexpr int G = 16;  // counters per pass: 64 elements, two mask words
  const int groups = (C + 3) / 4;
  const uint32_t r = uint32_t(row);
  std::fill(bits, bits + mask_words(C), 0u);
  for (int g0 = 0; g0 < groups; g0 += G) {
    uint32_t x0[G], x1[G], x2[G], x3[G];
#pragma omp simd
    for (int j = 0; j < G; ++j) x0[j] = uint32_t(g0 + j), x1[j] = r, x2[j] = stream, x3[j] = 0;
    uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
    for (int round = 0; round < 10; ++round) {
#pragma omp simd
      for (int j = 0; j < G; ++j) {
        const uint64_t p0 = uint64_t(0xD2511F53u) * x0[j], p1 = uint64_t(0xCD9E8D57u) * x2[j];
        const uint32_t y0 = uint32_t(p1 >> 32) ^ x1[j] ^ k0, y2 = uint32_t(p0 >> 32) ^ x3[j] ^ k1;
        x1[j] = uint32_t(p1), x3[j] = uint32_t(p0), x0[j] = y0, x2[j] = y2;
      }
      k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
    }
    // element 4 (g0 + j) + i keeps when word i of counter j is at or above the threshold
    uint32_t keep[2] = {0, 0};
    for (int j = 0; j < G; ++j) {
      const uint32_t nib = uint32_t(x0[j] >= threshold) | uint32_t(x1[j] >= threshold) << 1 |
                           uint32_t(x2[j] >= threshold) << 2 | uint32_t(x3[j] >= threshold) << 3;
      keep[j / 8] |= nib << (4 * (j % 8));
    }
    const int w0 = g0 / 8;  // 8 counters a word
    for (int w = 0; w < 2 && (w0 + w) * 32 < C; ++w) bits[w0 + w] = keep[w];
  }
  if (C % 32) bits[mask_words(C) - 1] &= (1u << (C % 32)) - 1;  // no bits past the row
}

template <typename S>
void dropout_apply(S* out, const S* inp, const uint32_t* bits, int rows, int C, S scale) {
  const long wpr = mask_words(C);
  for (int n = 0; n < rows; ++n) {
    const uint32_t* b = bits + n * wpr;
    const S* x = inp + (long)n * C;
    S* o = out + (long)n * C;
#pragma omp simd
    for (int c = 0; c < C; ++c) o[c] = (b[c >> 5] >> (c & 31)) & 1u ? x[c] * scale : S(0);
  }
}

template <typename S>
void dropout_forward(S* out, const S* inp, uint32_t* bits, int rows, int C, const Dropout& d) {
  const long wpr = mask_words(C);
  const uint32_t threshold = dropout_threshold(d.p);
  const S scale = S(1.0 / (1.0 - d.p));
  for (int n = 0; n < rows; ++n) {
    dropout_mask_row(bits + n * wpr, C, d.row0 + uint64_t(n), d.stream, d.key, threshold);
    dropout_apply(out + (long)n * C, inp + (long)n * C, bits + n * wpr, 1, C, scale);
  }
}

template <typename S>
void dropout_residual_forward(S* out, const S* res, const S* inp, uint32_t* bits, int rows, int C,
                              const Dropout& d) {
  const long wpr = mask_words(C);
  const uint32_t threshold = dropout_threshold(d.p);
  const S scale = S(1.0 / (1.0 - d.p));
  for (int n = 0; n < rows; ++n) {
    uint32_t* b = bits + n * wpr;
    dropout_mask_row(b, C, d.row0 + uint64_t(n), d.stream, d.key, threshold);
    const S* x = inp + (long)n * C;
    const S* r = res + (long)n * C;
    S* o = out + (long)n * C;
#pragma omp simd
    for (int c = 0; c < C; ++c) o[c] = r[c] + ((b[c >> 5] >> (c & 31)) & 1u ? x[c] * scale : S(0));
  }
}

// ---------------------------------------------------------------------------------------------
#define TF_INSTANTIATE(S)                                                                 \
  template void layernorm_forward<S>(S*, S*, S*, const S*, const S*, const S*, int, int); \
  template void layernorm_backward<S>(S*, S*, S*, const S*, const S*, const S*, const S*, \
                                      const S*, int, int, Grad);                          \
  template void dropout_apply<S>(S*, const S*, const uint32_t*, int, int, S);             \
  template void dropout_forward<S>(S*, const S*, uint32_t*, int, int, const Dropout&);    \
  template void dropout_residual_forward<S>(S*, const S*, const S*, uint32_t*, int, int,  \
                                            const Dropout&);

TF_INSTANTIATE(float)
TF_INSTANTIATE(double)

}  // namespace tinyfront::layers
