#include "tinyfront/model/layers.hpp"

#include <Eigen/Core>
#include <algorithm>
#include <cmath>

namespace tinyfront::layers {

namespace {
template <typename S>
using RowMat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename S>
using MapMat = Eigen::Map<RowMat<S>>;
template <typename S>
using CMapMat = Eigen::Map<const RowMat<S>>;
// A [rows, cols] view with a row stride larger than cols (a column block of a wider matrix).
template <typename S>
using CStrided = Eigen::Map<const RowMat<S>, 0, Eigen::OuterStride<>>;
template <typename S>
using Strided = Eigen::Map<RowMat<S>, 0, Eigen::OuterStride<>>;
template <typename S>
using RowVec = Eigen::Matrix<S, 1, Eigen::Dynamic>;
}  // namespace

// ---------------------------------------------------------------------------------------------
template <typename S>
void linear_forward(S* out, const S* inp, const S* W, const S* b, int N, int IC, int OC) {
  MapMat<S> Y(out, N, OC);
  Y.noalias() = CMapMat<S>(inp, N, IC) * CMapMat<S>(W, IC, OC);
  if (b) {
    Eigen::Map<const RowVec<S>> bias(b, OC);
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; ++n) Y.row(n) += bias;
  }
}

template <typename S>
void linear_backward(S* dinp, S* dW, S* db, const S* dout, const S* inp, const S* W, int N, int IC,
                     int OC) {
  CMapMat<S> dY(dout, N, OC);
  if (dinp) MapMat<S>(dinp, N, IC).noalias() += dY * CMapMat<S>(W, IC, OC).transpose();
  MapMat<S>(dW, IC, OC).noalias() += CMapMat<S>(inp, N, IC).transpose() * dY;
  if (db) {
    // Column sums, each column summed over rows in a fixed order (deterministic).
#pragma omp parallel for schedule(static)
    for (int o = 0; o < OC; ++o) {
      S acc = 0;
      for (int n = 0; n < N; ++n) acc += dout[(long)n * OC + o];
      db[o] += acc;
    }
  }
}

// ---------------------------------------------------------------------------------------------
template <typename S>
void embedding_forward(S* out, const int32_t* tokens, const S* wte, const S* wpe, int B, int T,
                       int C) {
#pragma omp parallel for schedule(static)
  for (long bt = 0; bt < (long)B * T; ++bt) {
    const S* e = wte + (long)tokens[bt] * C;
    S* o = out + bt * C;
    if (wpe) {
      const S* p = wpe + (bt % T) * C;
      for (int c = 0; c < C; ++c) o[c] = e[c] + p[c];
    } else {
      for (int c = 0; c < C; ++c) o[c] = e[c];
    }
  }
}

template <typename S>
void embedding_backward(S* dwte, S* dwpe, const S* dout, const int32_t* tokens, int B, int T,
                        int C) {
  // Token rows may repeat, so scatter serially in a fixed order (deterministic, and cheap next to
  // the GEMMs). Position rows are distinct per t: parallel over t.
  for (long bt = 0; bt < (long)B * T; ++bt) {
    S* d = dwte + (long)tokens[bt] * C;
    const S* g = dout + bt * C;
    for (int c = 0; c < C; ++c) d[c] += g[c];
  }
  if (dwpe) {
#pragma omp parallel for schedule(static)
    for (int t = 0; t < T; ++t)
      for (int b = 0; b < B; ++b) {
        const S* g = dout + ((long)b * T + t) * C;
        for (int c = 0; c < C; ++c) dwpe[(long)t * C + c] += g[c];
      }
  }
}

// ---------------------------------------------------------------------------------------------
template <typename S>
void layernorm_forward(S* out, S* mean, S* rstd, const S* inp, const S* gamma, const S* beta, int N,
                       int C) {
  const S eps = S(1e-5);
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const S* x = inp + (long)n * C;
    S m = 0;
    for (int c = 0; c < C; ++c) m += x[c];
    m /= C;
    S v = 0;
    for (int c = 0; c < C; ++c) v += (x[c] - m) * (x[c] - m);
    v /= C;
    S r = S(1) / std::sqrt(v + eps);
    S* o = out + (long)n * C;
    for (int c = 0; c < C; ++c) o[c] = (x[c] - m) * r * gamma[c] + beta[c];
    mean[n] = m;
    rstd[n] = r;
  }
}

template <typename S>
void layernorm_backward(S* dinp, S* dgamma, S* dbeta, const S* dout, const S* inp, const S* gamma,
                        const S* mean, const S* rstd, int N, int C) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const S* x = inp + (long)n * C;
    const S* g = dout + (long)n * C;
    const S m = mean[n], r = rstd[n];
    S dnorm_mean = 0, dnorm_norm_mean = 0;
    for (int c = 0; c < C; ++c) {
      S xhat = (x[c] - m) * r;
      S dnorm = gamma[c] * g[c];
      dnorm_mean += dnorm;
      dnorm_norm_mean += dnorm * xhat;
    }
    dnorm_mean /= C;
    dnorm_norm_mean /= C;
    S* d = dinp + (long)n * C;
    for (int c = 0; c < C; ++c) {
      S xhat = (x[c] - m) * r;
      S dnorm = gamma[c] * g[c];
      d[c] += (dnorm - dnorm_mean - xhat * dnorm_norm_mean) * r;
    }
  }
#pragma omp parallel for schedule(static)
  for (int c = 0; c < C; ++c) {
    S dg = 0, db = 0;
    for (int n = 0; n < N; ++n) {
      S xhat = (inp[(long)n * C + c] - mean[n]) * rstd[n];
      dg += dout[(long)n * C + c] * xhat;
      db += dout[(long)n * C + c];
    }
    dgamma[c] += dg;
    dbeta[c] += db;
  }
}

// ---------------------------------------------------------------------------------------------
template <typename S>
void activation_forward(S* out, const S* inp, long n, Activation act) {
  if (act == Activation::relu) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) out[i] = inp[i] > S(0) ? inp[i] : S(0);
  } else {
    const S inv_sqrt2 = S(0.70710678118654752440);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) out[i] = S(0.5) * inp[i] * (S(1) + std::erf(inp[i] * inv_sqrt2));
  }
}

template <typename S>
void activation_backward(S* dinp, const S* dout, const S* inp, long n, Activation act) {
  if (act == Activation::relu) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) dinp[i] += inp[i] > S(0) ? dout[i] : S(0);
  } else {
    const S inv_sqrt2 = S(0.70710678118654752440);
    const S inv_sqrt_2pi = S(0.39894228040143267794);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; ++i) {
      S x = inp[i];
      S cdf = S(0.5) * (S(1) + std::erf(x * inv_sqrt2));
      S pdf = inv_sqrt_2pi * std::exp(S(-0.5) * x * x);
      dinp[i] += dout[i] * (cdf + x * pdf);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// RoPE: pair (i, j) of each head vector is rotated by angle pos * base^(-2k/hd), where k indexes
// the pair. halves: pairs (k, k + hd/2) (the study, GPT-NeoX style); interleaved: (2k, 2k+1).
template <typename S>
static void rope_apply(S* qkv, int B, int T, int C, int H, double base, RopeStyle style, S sign) {
  const int hd = C / H, half = hd / 2;
#pragma omp parallel for schedule(static)
  for (long bt = 0; bt < (long)B * T; ++bt) {
    const int t = int(bt % T);
    S* row = qkv + bt * 3 * C;
    for (int k = 0; k < half; ++k) {
      double theta = t * std::pow(base, -2.0 * k / hd);
      S cs = S(std::cos(theta)), sn = sign * S(std::sin(theta));
      for (int part = 0; part < 2; ++part)  // q then k
        for (int h = 0; h < H; ++h) {
          S* v = row + part * C + h * hd;
          int i = style == RopeStyle::halves ? k : 2 * k;
          int j = style == RopeStyle::halves ? k + half : 2 * k + 1;
          S a = v[i], b = v[j];
          v[i] = a * cs - b * sn;
          v[j] = a * sn + b * cs;
        }
    }
  }
}
template <typename S>
void rope_forward(S* qkv, int B, int T, int C, int H, double base, RopeStyle style) {
  rope_apply(qkv, B, T, C, H, base, style, S(1));
}
template <typename S>
void rope_backward(S* dqkv, int B, int T, int C, int H, double base, RopeStyle style) {
  rope_apply(dqkv, B, T, C, H, base, style, S(-1));  // rotation is orthogonal: inverse = transpose
}

// ---------------------------------------------------------------------------------------------
template <typename S>
void attention_forward(S* out, S* att, const S* qkv, int B, int T, int C, int H) {
  const int hd = C / H;
  const S scale = S(1) / std::sqrt(S(hd));
  const long rs = 3L * C;  // row stride of qkv
#pragma omp parallel for collapse(2) schedule(static)
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const S* base = qkv + (long)b * T * rs + h * hd;
      CStrided<S> Q(base, T, hd, Eigen::OuterStride<>(rs));
      CStrided<S> K(base + C, T, hd, Eigen::OuterStride<>(rs));
      CStrided<S> V(base + 2 * C, T, hd, Eigen::OuterStride<>(rs));
      MapMat<S> A(att + ((long)b * H + h) * T * T, T, T);
      A.noalias() = Q * K.transpose();
      for (int t = 0; t < T; ++t) {
        S* a = A.row(t).data();
        S mx = -INFINITY;
        for (int u = 0; u <= t; ++u) mx = std::max(mx, a[u] * scale);
        S sum = 0;
        for (int u = 0; u <= t; ++u) {
          a[u] = std::exp(a[u] * scale - mx);
          sum += a[u];
        }
        S inv = S(1) / sum;
        for (int u = 0; u <= t; ++u) a[u] *= inv;
        for (int u = t + 1; u < T; ++u) a[u] = 0;
      }
      Strided<S> Y(out + (long)b * T * C + h * hd, T, hd, Eigen::OuterStride<>(C));
      Y.noalias() = A * V;
    }
}

template <typename S>
void attention_backward(S* dqkv, const S* dout, const S* att, const S* qkv, int B, int T, int C,
                        int H) {
  const int hd = C / H;
  const S scale = S(1) / std::sqrt(S(hd));
  const long rs = 3L * C;
#pragma omp parallel
  {
    RowMat<S> dA(T, T);  // per-thread scratch, allocated once per call
#pragma omp for collapse(2) schedule(static)
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < H; ++h) {
        const long off = (long)b * T * rs + h * hd;
        CStrided<S> Q(qkv + off, T, hd, Eigen::OuterStride<>(rs));
        CStrided<S> K(qkv + off + C, T, hd, Eigen::OuterStride<>(rs));
        CStrided<S> V(qkv + off + 2 * C, T, hd, Eigen::OuterStride<>(rs));
        Strided<S> dQ(dqkv + off, T, hd, Eigen::OuterStride<>(rs));
        Strided<S> dK(dqkv + off + C, T, hd, Eigen::OuterStride<>(rs));
        Strided<S> dV(dqkv + off + 2 * C, T, hd, Eigen::OuterStride<>(rs));
        CMapMat<S> A(att + ((long)b * H + h) * T * T, T, T);
        CStrided<S> dY(dout + (long)b * T * C + h * hd, T, hd, Eigen::OuterStride<>(C));
        dV.noalias() += A.transpose() * dY;
        dA.noalias() = dY * V.transpose();
        // softmax backward, then the 1/sqrt(hd) scale: dS = A * (dA - rowdot(dA, A)) * scale
        for (int t = 0; t < T; ++t) {
          S dot = 0;
          for (int u = 0; u <= t; ++u) dot += dA(t, u) * A(t, u);
          for (int u = 0; u <= t; ++u) dA(t, u) = A(t, u) * (dA(t, u) - dot) * scale;
          for (int u = t + 1; u < T; ++u) dA(t, u) = 0;
        }
        dQ.noalias() += dA * K;
        dK.noalias() += dA.transpose() * Q;
      }
  }
}

// ---------------------------------------------------------------------------------------------
template <typename S>
void crossentropy_forward(S* probs, S* losses, const S* logits, const int32_t* targets, int N,
                          int V) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const S* z = logits + (long)n * V;
    S* p = probs + (long)n * V;
    S mx = z[0];
    for (int v = 1; v < V; ++v) mx = std::max(mx, z[v]);
    S sum = 0;
    for (int v = 0; v < V; ++v) {
      p[v] = std::exp(z[v] - mx);
      sum += p[v];
    }
    S inv = S(1) / sum;
    for (int v = 0; v < V; ++v) p[v] *= inv;
    // log-sum-exp form keeps the loss finite even when p[target] underflows
    losses[n] = std::log(sum) + mx - z[targets[n]];
  }
}

template <typename S>
void crossentropy_backward(S* dlogits, const S* probs, const int32_t* targets, int N, int V,
                           S scale) {
#pragma omp parallel for schedule(static)
  for (int n = 0; n < N; ++n) {
    const S* p = probs + (long)n * V;
    S* d = dlogits + (long)n * V;
    for (int v = 0; v < V; ++v) d[v] = p[v] * scale;
    d[targets[n]] -= scale;
  }
}

template <typename S>
void dropout_forward(S* out, const S* inp, const S* mask, long n) {
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; ++i) out[i] = inp[i] * mask[i];
}

// ---------------------------------------------------------------------------------------------
#define TF_INSTANTIATE(S)                                                                        \
  template void linear_forward<S>(S*, const S*, const S*, const S*, int, int, int);              \
  template void linear_backward<S>(S*, S*, S*, const S*, const S*, const S*, int, int, int);     \
  template void embedding_forward<S>(S*, const int32_t*, const S*, const S*, int, int, int);     \
  template void embedding_backward<S>(S*, S*, const S*, const int32_t*, int, int, int);          \
  template void layernorm_forward<S>(S*, S*, S*, const S*, const S*, const S*, int, int);        \
  template void layernorm_backward<S>(S*, S*, S*, const S*, const S*, const S*, const S*,        \
                                      const S*, int, int);                                       \
  template void activation_forward<S>(S*, const S*, long, Activation);                           \
  template void activation_backward<S>(S*, const S*, const S*, long, Activation);                \
  template void rope_forward<S>(S*, int, int, int, int, double, RopeStyle);                      \
  template void rope_backward<S>(S*, int, int, int, int, double, RopeStyle);                     \
  template void attention_forward<S>(S*, S*, const S*, int, int, int, int);                      \
  template void attention_backward<S>(S*, const S*, const S*, const S*, int, int, int, int);     \
  template void crossentropy_forward<S>(S*, S*, const S*, const int32_t*, int, int);             \
  template void crossentropy_backward<S>(S*, const S*, const int32_t*, int, int, S);             \
  template void dropout_forward<S>(S*, const S*, const S*, long);

TF_INSTANTIATE(float)
TF_INSTANTIATE(double)

}  // namespace tinyfront::layers
