// Token and position embeddings, and the softmax cross-entropy loss (layers.hpp).
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
void embedding_forward(S* out, const int32_t* tokens, const S* wte, const S* wpe, int B, int T,
                       int C) {
  for (long bt = 0; bt < (long)B * T; ++bt) {
    const S* e = wte + (long)tokens[bt] * C;
    S* o = out + bt * C;
    if (wpe) {
      const S* p = wpe + (bt % T) * C;
      for (int c = 0; c < C; ++c) o[c] = e[c] + p[c];
    } else {
      std::memcpy(o, e, sizeof(S) * C);
    }
  }
}

template <typename S>
void embedding_backward(S* dwte, S* dwpe, const S* dout, const int32_t* tokens, int B, int T, int C,
                        int c0, int c1) {
  // Token rows may repeat: scattered in row order (deterministic).
  for (long bt = 0; bt < (long)B * T; ++bt) {
    S* d = dwte + (long)tokens[bt] * C;
    const S* g = dout + bt * C;
    for (int c = c0; c < c1; ++c) d[c] += g[c];
  }
  if (dwpe)
    for (long bt = 0; bt < (long)B * T; ++bt) {
      S* d = dwpe + (bt % T) * C;
      const S* g = dout + bt * C;
      for (int c = c0; c < c1; ++c) d[c] += g[c];
    }
}

// ---------------------------------------------------------------------------------------------
template <typename S>
void crossentropy_forward(S* probs, S* losses, const S* logits, const int32_t* targets, int N,
                          int V) {
  for (int n = 0; n < N; ++n) {
    const S* z = logits + (long)n * V;
    S* p = probs + (long)n * V;
    const S zt = z[targets[n]];  // before probs (which may be z) overwrite it
    const S mx = max_lanes(z, V);
    if (p != z) std::copy(z, z + V, p);
    exp_inplace(p, V, S(1), mx);
    const S sum = sum_lanes(p, V);
    const S inv = S(1) / sum;
#pragma omp simd
    for (int v = 0; v < V; ++v) p[v] *= inv;
    // log-sum-exp form keeps the loss finite even when p[target] underflows
    losses[n] = std::log(sum) + mx - zt;
  }
}

template <typename S>
void crossentropy_backward(S* dlogits, const S* probs, const int32_t* targets, int N, int V,
                           S scale) {
  for (int n = 0; n < N; ++n) {
    const S* p = probs + (long)n * V;
    S* d = dlogits + (long)n * V;
#pragma omp simd
    for (int v = 0; v < V; ++v) d[v] = p[v] * scale;
    d[targets[n]] -= scale;
  }
}

// ---------------------------------------------------------------------------------------------
#define TF_INSTANTIATE(S)                                                                         \
  template void embedding_forward<S>(S*, const int32_t*, const S*, const S*, int, int, int);      \
  template void embedding_backward<S>(S*, S*, const S*, const int32_t*, int, int, int, int, int); \
  template void crossentropy_forward<S>(S*, S*, const S*, const int32_t*, int, int);              \
  template void crossentropy_backward<S>(S*, const S*, const int32_t*, int, int, S);

TF_INSTANTIATE(float)
TF_INSTANTIATE(double)

}  // namespace tinyfront::layers
