#include "tinyfront/model/layers.hpp"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <unsupported/Eigen/SpecialFunctions>

namespace tinyfront::layers {

namespace {
template <typename S>
using RowMat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
// A [rows, cols] view with a row stride of its own (a column block of a wider matrix, or every
// T-th row of a batch).
template <typename S>
using CStrided = Eigen::Map<const RowMat<S>, 0, Eigen::OuterStride<>>;
template <typename S>
using Strided = Eigen::Map<RowMat<S>, 0, Eigen::OuterStride<>>;

// SIMD through Eigen's packet primitives (the building blocks of its own kernels), at the widest
// packet of the machine: 16 floats with AVX-512, 8 with AVX, 4 with SSE.
using Eigen::internal::ploadu;
using Eigen::internal::pmadd;
using Eigen::internal::pmul;
using Eigen::internal::pset1;
using Eigen::internal::pstoreu;
template <typename S>
using Packet = typename Eigen::internal::packet_traits<S>::type;
template <typename S>
constexpr int kPacket = Eigen::internal::packet_traits<S>::size;

// Sums in 16 interleaved lanes combined pairwise: vectorisable without reassociating anything,
// and the same order wherever the data sits in memory.
constexpr int kLanes = 16;
template <typename S>
S combine(S (&acc)[kLanes]) {
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0];
}
template <typename S>
S sum_lanes(const S* x, int n) {
  S acc[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += x[i + j];
  S tail = 0;
  for (; i < n; ++i) tail += x[i];
  return combine(acc) + tail;
}
template <typename S>
S max_lanes(const S* x, int n) {
  // Packets of Eigen's native width, then the rest one by one; max is exact, so the grouping
  // does not change the result.
  using P = Packet<S>;
  constexpr int W = kPacket<S>;
  S mx = x[0];
  int i = 0;
  if (n >= W) {
    P m = ploadu<P>(x);
    for (i = W; i + W <= n; i += W) m = Eigen::internal::pmax(m, ploadu<P>(x + i));
    mx = Eigen::internal::predux_max(m);
  }
  for (; i < n; ++i) mx = std::max(mx, x[i]);
  return mx;
}
template <typename S>
S dot_lanes(const S* x, const S* y, int n) {
  S acc[kLanes] = {};
  int i = 0;
  for (; i + kLanes <= n; i += kLanes)
    for (int j = 0; j < kLanes; ++j) acc[j] += x[i + j] * y[i + j];
  S tail = 0;
  for (; i < n; ++i) tail += x[i] * y[i];
  return combine(acc) + tail;
}

// [lo, hi) of part `i` of `parts` over n items, boundaries rounded to multiples of `align`.
void split(int n, int parts, int i, int align, int& lo, int& hi) {
  auto edge = [&](int k) {
    if (k >= parts) return n;
    long e = long(n) * k / parts;
    return std::min(n, int((e + align / 2) / align * align));
  };
  lo = edge(i);
  hi = edge(i + 1);
}

// x[i] = exp(x[i] * scale - shift) for i < n, every element through Eigen's vectorised exp (the
// last partial packet through a padded copy): the same computation wherever an element sits, so
// results do not depend on lengths or addresses.
template <typename S>
void exp_inplace(S* x, int n, S scale, S shift) {
  using P = Packet<S>;
  constexpr int W = kPacket<S>;
  const P ps = pset1<P>(scale), pb = pset1<P>(-shift);
  int i = 0;
  for (; i + W <= n; i += W) pstoreu(x + i, Eigen::internal::pexp(pmadd(ploadu<P>(x + i), ps, pb)));
  if (i < n) {
    S tmp[W] = {};
    std::copy(x + i, x + n, tmp);
    pstoreu(tmp, Eigen::internal::pexp(pmadd(ploadu<P>(tmp), ps, pb)));
    std::copy(tmp, tmp + (n - i), x + i);
  }
}

// Numerically stable softmax of a[0, n) after scaling by `scale`, in place.
template <typename S>
void softmax_row(S* a, int n, S scale) {
  const S shift = max_lanes(a, n) * scale;
  exp_inplace(a, n, scale, shift);
  const S inv = S(1) / sum_lanes(a, n);
  for (int u = 0; u < n; ++u) a[u] *= inv;
}
}  // namespace

// ---------------------------------------------------------------------------------------------
template <typename S>
void gemm(S* C, long ldc, const S* A, long lda, bool transA, const S* B, long ldb, bool transB,
          int M, int N, int K, bool accumulate) {
  if (M <= 0 || N <= 0) return;
  Strided<S> Cm(C, M, N, Eigen::OuterStride<>(ldc));
  if (K <= 0) {
    if (!accumulate) Cm.setZero();
    return;
  }
  CStrided<S> Am(A, transA ? K : M, transA ? M : K, Eigen::OuterStride<>(lda));
  CStrided<S> Bm(B, transB ? N : K, transB ? K : N, Eigen::OuterStride<>(ldb));
  auto run = [&](const auto& a, const auto& b) {
    if (accumulate)
      Cm.noalias() += a * b;
    else
      Cm.noalias() = a * b;
  };
  if (!transA && !transB)
    run(Am, Bm);
  else if (!transA)
    run(Am, Bm.transpose());
  else if (!transB)
    run(Am.transpose(), Bm);
  else
    run(Am.transpose(), Bm.transpose());
}

// ---------------------------------------------------------------------------------------------
template <typename S>
void colsum_add(S* db, const S* dout, long ld, int N, int OC) {
  for (int n = 0; n < N; ++n) {
    const S* g = dout + n * ld;
    for (int o = 0; o < OC; ++o) db[o] += g[o];
  }
}

template <typename S>
void linear_forward(S* out, const S* inp, const S* W, const S* b, const S* res, int N, int IC,
                    int OC) {
  if (!b && !res) {
    gemm(out, OC, inp, IC, false, W, OC, false, N, OC, IC, false);
    return;
  }
  for (int n = 0; n < N; ++n) {
    S* o = out + (long)n * OC;
    if (b && res) {
      const S* r = res + (long)n * OC;
      for (int c = 0; c < OC; ++c) o[c] = r[c] + b[c];
    } else if (b) {
      std::memcpy(o, b, sizeof(S) * OC);
    } else {
      std::memcpy(o, res + (long)n * OC, sizeof(S) * OC);
    }
  }
  gemm(out, OC, inp, IC, false, W, OC, false, N, OC, IC, true);
}

template <typename S>
void linear_backward(S* dinp, S* dW, S* db, const S* dout, const S* inp, const S* W, int N, int IC,
                     int OC, Grad mode) {
  if (dinp) gemm(dinp, IC, dout, OC, false, W, OC, true, N, IC, OC, mode == Grad::add);
  gemm(dW, OC, inp, IC, true, dout, OC, false, IC, OC, N, true);
  if (db) colsum_add(db, dout, OC, N, OC);
}

template <typename S>
void linear_forward_par(S* out, const S* inp, const S* W, const S* b, int N, int IC, int OC) {
#pragma omp parallel
  {
    const int parts = omp_get_num_threads(), me = omp_get_thread_num();
    int lo, hi;
    if (N >= OC) {  // split rows
      split(N, parts, me, 1, lo, hi);
      linear_forward(out + (long)lo * OC, inp + (long)lo * IC, W, b, (const S*)nullptr, hi - lo, IC,
                     OC);
    } else {  // split output columns
      split(OC, parts, me, 16, lo, hi);
      if (b)
        for (int n = 0; n < N; ++n)
          std::memcpy(out + (long)n * OC + lo, b + lo, sizeof(S) * (hi - lo));
      gemm(out + lo, OC, inp, IC, false, W + lo, OC, false, N, hi - lo, IC, b != nullptr);
    }
  }
}

template <typename S>
void linear_backward_par(S* dinp, S* dW, S* db, const S* dout, const S* inp, const S* W, int N,
                         int IC, int OC, Grad mode) {
  const bool add = mode == Grad::add;
#pragma omp parallel
  {
    const int parts = omp_get_num_threads(), me = omp_get_thread_num();
    int lo, hi;
    if (dinp) {
      if (N >= IC) {
        split(N, parts, me, 1, lo, hi);
        gemm(dinp + (long)lo * IC, IC, dout + (long)lo * OC, OC, false, W, OC, true, hi - lo, IC,
             OC, add);
      } else {
        split(IC, parts, me, 16, lo, hi);
        gemm(dinp + lo, IC, dout, OC, false, W + (long)lo * OC, OC, true, N, hi - lo, OC, add);
      }
    }
    if (IC >= OC) {  // rows of dW: columns of inp
      split(IC, parts, me, 16, lo, hi);
      gemm(dW + (long)lo * OC, OC, inp + lo, IC, true, dout, OC, false, hi - lo, OC, N, true);
    } else {
      split(OC, parts, me, 16, lo, hi);
      gemm(dW + lo, OC, inp, IC, true, dout + lo, OC, false, IC, hi - lo, N, true);
    }
    if (db) {
      split(OC, parts, me, 16, lo, hi);
      colsum_add(db + lo, dout + lo, OC, N, hi - lo);
    }
  }
}

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
// GELU, exact (x Phi(x), Phi through erf) and tanh forms. Floats go through Eigen's vectorised
// rational approximations of erf and tanh (a couple of ulp in float, tests/test_gradients.cpp
// bounds the whole activation against double precision) and its vectorised exp, a packet at a
// time; the tail goes through a padded packet too, so that an element's result does not depend
// on where it sits. Doubles (the gradient checks) use the C library's erf, tanh and exp.
namespace {
constexpr double kInvSqrt2 = 0.70710678118654752440;
constexpr double kInvSqrt2Pi = 0.39894228040143267794;
constexpr double kSqrt2OverPi = 0.79788456080286535588;
constexpr double kGeluTanhCubic = 0.044715;

// f(x) and f'(x) of one activation on a packet (or a scalar: Eigen's packet functions take both).
template <typename P>
P gelu_packet(const P& x, Activation act) {
  using namespace Eigen::internal;
  using S = typename unpacket_traits<P>::type;
  const P half = pset1<P>(S(0.5)), one = pset1<P>(S(1));
  if (act == Activation::gelu) {
    const P e = generic_fast_erf_float(pmul(x, pset1<P>(S(kInvSqrt2))));
    return pmul(pmul(half, x), padd(one, e));
  }
  const P x3 = pmul(pmul(x, x), x);
  const P u = pmul(pset1<P>(S(kSqrt2OverPi)), pmadd(pset1<P>(S(kGeluTanhCubic)), x3, x));
  return pmul(pmul(half, x), padd(one, generic_fast_tanh_float(u)));
}
template <typename P>
P gelu_grad_packet(const P& x, Activation act) {
  using namespace Eigen::internal;
  using S = typename unpacket_traits<P>::type;
  const P half = pset1<P>(S(0.5)), one = pset1<P>(S(1));
  if (act == Activation::gelu) {
    const P cdf = pmul(half, padd(one, generic_fast_erf_float(pmul(x, pset1<P>(S(kInvSqrt2))))));
    const P pdf = pmul(pset1<P>(S(kInvSqrt2Pi)), pexp(pmul(pset1<P>(S(-0.5)), pmul(x, x))));
    return pmadd(x, pdf, cdf);
  }
  // 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 c x^2), t = tanh(u). 1 - t^2 is taken from
  // s = exp(-2|u|) as 4 s / (1 + s)^2, not from t: near |t| = 1 the subtraction would lose
  // every digit of the approximated t (an error of 3.5e-6 at x = 5). Beyond |x| = 10 the
  // derivative is 0 or 1 to within 1e-20: x is clamped there, so that x^3 cannot overflow.
  const P xc = pmax(pmin(x, pset1<P>(S(10))), pset1<P>(S(-10)));
  const P x2 = pmul(xc, xc);
  const P u = pmul(pset1<P>(S(kSqrt2OverPi)), pmadd(pset1<P>(S(kGeluTanhCubic)), pmul(x2, xc), xc));
  const P s = pexp(pmul(pset1<P>(S(-2)), pabs(u)));
  const P inv = pdiv(one, padd(one, s));
  const P t_abs = pmul(psub(one, s), inv);
  const P t = pselect(pcmp_lt(u, pzero(u)), pnegate(t_abs), t_abs);
  const P sech2 = pmul(pmul(pset1<P>(S(4)), s), pmul(inv, inv));
  const P du = pmul(pset1<P>(S(kSqrt2OverPi)), pmadd(pset1<P>(S(3 * kGeluTanhCubic)), x2, one));
  return pmul(half, padd(padd(one, t), pmul(xc, pmul(sech2, du))));
}

double gelu_scalar(double x, Activation act) {
  if (act == Activation::gelu) return 0.5 * x * (1 + std::erf(x * kInvSqrt2));
  return 0.5 * x * (1 + std::tanh(kSqrt2OverPi * (x + kGeluTanhCubic * x * x * x)));
}
double gelu_grad_scalar(double x, Activation act) {
  if (act == Activation::gelu)
    return 0.5 * (1 + std::erf(x * kInvSqrt2)) + x * kInvSqrt2Pi * std::exp(-0.5 * x * x);
  const double t = std::tanh(kSqrt2OverPi * (x + kGeluTanhCubic * x * x * x));
  const double du = kSqrt2OverPi * (1 + 3 * kGeluTanhCubic * x * x);
  return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
}

// out[i] = f(in[i]) for i < n, a float packet at a time, the tail through a padded packet.
template <typename F>
void map_packets(float* out, const float* in, long n, F f) {
  using P = Packet<float>;
  constexpr int W = kPacket<float>;
  long i = 0;
  for (; i + W <= n; i += W) pstoreu(out + i, f(ploadu<P>(in + i), i));
  if (i < n) {
    float tin[W] = {}, tout[W];
    std::copy(in + i, in + n, tin);
    pstoreu(tout, f(ploadu<P>(tin), i));
    std::copy(tout, tout + (n - i), out + i);
  }
}
}  // namespace

template <typename S>
void activation_forward(S* out, const S* inp, long n, Activation act) {
  if (act == Activation::relu) {
#pragma omp simd
    for (long i = 0; i < n; ++i) out[i] = inp[i] > S(0) ? inp[i] : S(0);
  } else if constexpr (std::is_same_v<S, float>) {
    map_packets(out, inp, n, [act](const Packet<float>& x, long) { return gelu_packet(x, act); });
  } else {
    for (long i = 0; i < n; ++i) out[i] = S(gelu_scalar(double(inp[i]), act));
  }
}

template <typename S>
void activation_backward(S* dinp, const S* dout, const S* inp, long n, Activation act, Grad mode) {
  const bool add = mode == Grad::add;
  if (act == Activation::relu) {
    // (omp simd: dinp may be dout, element for element, which is no dependence between elements)
#pragma omp simd
    for (long i = 0; i < n; ++i) {
      const S v = inp[i] > S(0) ? dout[i] : S(0);
      dinp[i] = add ? dinp[i] + v : v;
    }
  } else if constexpr (std::is_same_v<S, float>) {
    // f'(x) for the packet of inp, times dout (and plus dinp) of the same elements; the tail's
    // dout and dinp are read and written through the same padding as inp.
    using P = Packet<float>;
    constexpr int W = kPacket<float>;
    long i = 0;
    for (; i + W <= n; i += W) {
      P v = pmul(gelu_grad_packet(ploadu<P>(inp + i), act), ploadu<P>(dout + i));
      if (add) v = Eigen::internal::padd(v, ploadu<P>(dinp + i));
      pstoreu(dinp + i, v);
    }
    if (i < n) {
      float x[W] = {}, g[W] = {}, d[W] = {};
      std::copy(inp + i, inp + n, x);
      std::copy(dout + i, dout + n, g);
      if (add) std::copy(dinp + i, dinp + n, d);
      P v = pmul(gelu_grad_packet(ploadu<P>(x), act), ploadu<P>(g));
      if (add) v = Eigen::internal::padd(v, ploadu<P>(d));
      pstoreu(d, v);
      std::copy(d, d + (n - i), dinp + i);
    }
  } else {
    for (long i = 0; i < n; ++i) {
      const S v = dout[i] * S(gelu_grad_scalar(double(inp[i]), act));
      dinp[i] = add ? dinp[i] + v : v;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// RoPE: pair (i, j) of each head vector is rotated by angle pos * base^(-2k/hd), where k indexes
// the pair. halves: pairs (k, k + hd/2) (the study, GPT-NeoX style); interleaved: (2k, 2k+1).
template <typename S>
void rope_table(S* cs, int T, int hd, double base) {
  for (int t = 0; t < T; ++t)
    for (int k = 0; k < hd / 2; ++k) {
      const double theta = t * std::pow(base, -2.0 * k / hd);
      cs[(long)t * hd + 2 * k] = S(std::cos(theta));
      cs[(long)t * hd + 2 * k + 1] = S(std::sin(theta));
    }
}

namespace {
template <typename S>
void rope_apply(S* x, long stride, int rows, int period, int pos0, int C, int H, const S* cs,
                RopeStyle style, S sign) {
  const int hd = C / H, half = hd / 2;
  for (int r = 0; r < rows; ++r) {
    const S* a = cs + (long)(pos0 + r % period) * hd;
    S* row = x + r * stride;
    for (int h = 0; h < H; ++h) {
      S* v = row + h * hd;
      for (int k = 0; k < half; ++k) {
        const int i = style == RopeStyle::halves ? k : 2 * k;
        const int j = style == RopeStyle::halves ? k + half : 2 * k + 1;
        const S c = a[2 * k], s = sign * a[2 * k + 1];
        const S p = v[i], q = v[j];
        v[i] = p * c - q * s;
        v[j] = p * s + q * c;
      }
    }
  }
}
}  // namespace

template <typename S>
void rope_forward(S* x, long stride, int rows, int period, int pos0, int C, int H, const S* cs,
                  RopeStyle style) {
  rope_apply(x, stride, rows, period, pos0, C, H, cs, style, S(1));
}
template <typename S>
void rope_backward(S* dx, long stride, int rows, int period, int pos0, int C, int H, const S* cs,
                   RopeStyle style) {
  // the rotation is orthogonal: its inverse is its transpose, the rotation by -angle
  rope_apply(dx, stride, rows, period, pos0, C, H, cs, style, S(-1));
}

// ---------------------------------------------------------------------------------------------
// Causal attention, one sequence and head at a time. Two implementations of the same product:
//
//  - SIMD kernels (head size a multiple of the SIMD width, e.g. 16 floats with AVX-512): query
//    rows in blocks of kRowBlock = 4; a block [t0, t0+4) multiplies only the keys [0, t0+4) it
//    may see, so the masked upper triangle is not computed. Written with Eigen's packet
//    primitives (the building blocks of its own GEMM), with every accumulator in a register: the
//    score rows of a block are a [4, head] x [head, t] product whose inner dimension (32 for the
//    study) is too small for a general GEMM to run well.
//  - otherwise Eigen GEMMs on blocks of kQueryBlock = 32 query rows (each against the keys
//    [0, t1) of its block).
namespace {
constexpr int kRowBlock = 4;
constexpr int kQueryBlock = 32;

long round_up(long x, long m) {
  return (x + m - 1) / m * m;
}

// The SIMD path applies when the head size is 1, 2, 4 or 8 packets.
template <typename S>
int head_packets(int hd) {
  const int np = hd / kPacket<S>;
  return hd % kPacket<S> == 0 && (np == 1 || np == 2 || np == 4 || np == 8) ? np : 0;
}

// out[r, 0 : NPK packets) = x[r] . yt[:, cols] for the kRowBlock rows x[r] (hd values each) and
// NPK packets of columns of yt [hd, ldy].
template <typename S, int NPK>
void rows_dot_cols(S* out, long ldo, const S* const* x, const S* yt, long ldy, int hd) {
  using P = Packet<S>;
  constexpr int W = kPacket<S>;
  P acc[kRowBlock][NPK];
  for (int r = 0; r < kRowBlock; ++r)
    for (int j = 0; j < NPK; ++j) acc[r][j] = pset1<P>(S(0));
  for (int d = 0; d < hd; ++d) {
    P y[NPK];
    for (int j = 0; j < NPK; ++j) y[j] = ploadu<P>(yt + d * ldy + j * W);
    for (int r = 0; r < kRowBlock; ++r) {
      const P xb = pset1<P>(x[r][d]);
      for (int j = 0; j < NPK; ++j) acc[r][j] = pmadd(xb, y[j], acc[r][j]);
    }
  }
  for (int r = 0; r < kRowBlock; ++r)
    for (int j = 0; j < NPK; ++j) pstoreu(out + r * ldo + j * W, acc[r][j]);
}

// out[r, 0 : ncols) for ncols a multiple of the packet size, in chunks of 4 packets.
template <typename S>
void rows_dot_cols(S* out, long ldo, const S* const* x, const S* yt, long ldy, int hd, int ncols) {
  constexpr int W = kPacket<S>;
  int u = 0;
  for (; u + 4 * W <= ncols; u += 4 * W) rows_dot_cols<S, 4>(out + u, ldo, x, yt + u, ldy, hd);
  switch ((ncols - u) / W) {
    case 3:
      rows_dot_cols<S, 3>(out + u, ldo, x, yt + u, ldy, hd);
      break;
    case 2:
      rows_dot_cols<S, 2>(out + u, ldo, x, yt + u, ldy, hd);
      break;
    case 1:
      rows_dot_cols<S, 1>(out + u, ldo, x, yt + u, ldy, hd);
      break;
    default:
      break;
  }
}

// out[r] = sum over u < nu of w[r][u] z[u] (rows of NP packets, row stride rs), for the
// kRowBlock rows whose out[r] is not null.
template <typename S, int NP>
void rows_weighted_sum(S* const* out, const S* const* w, const S* z, long rs, int nu) {
  using P = Packet<S>;
  constexpr int W = kPacket<S>;
  P acc[kRowBlock][NP];
  for (int r = 0; r < kRowBlock; ++r)
    for (int j = 0; j < NP; ++j) acc[r][j] = pset1<P>(S(0));
  for (int u = 0; u < nu; ++u) {
    P zv[NP];
    for (int j = 0; j < NP; ++j) zv[j] = ploadu<P>(z + u * rs + j * W);
    for (int r = 0; r < kRowBlock; ++r) {
      const P wb = pset1<P>(w[r][u]);
      for (int j = 0; j < NP; ++j) acc[r][j] = pmadd(wb, zv[j], acc[r][j]);
    }
  }
  for (int r = 0; r < kRowBlock; ++r)
    if (out[r])
      for (int j = 0; j < NP; ++j) pstoreu(out[r] + j * W, acc[r][j]);
}

// For u < nu: dk[u] += sum_r ds[r][u] q[r] and dv[u] += sum_r a[r][u] dy[r] (rows of NP packets,
// row stride rs): the key and value gradients of one block of query rows.
template <typename S, int NP>
void rank_update(S* dk, S* dv, long rs, const S* const* ds, const S* const* a, const S* const* q,
                 const S* const* dy, int nu) {
  using P = Packet<S>;
  constexpr int W = kPacket<S>;
  P qr[kRowBlock][NP], dyr[kRowBlock][NP];
  for (int r = 0; r < kRowBlock; ++r)
    for (int j = 0; j < NP; ++j) {
      qr[r][j] = ploadu<P>(q[r] + j * W);
      dyr[r][j] = ploadu<P>(dy[r] + j * W);
    }
  for (int u = 0; u < nu; ++u) {
    P kacc[NP], vacc[NP];
    for (int j = 0; j < NP; ++j) {
      kacc[j] = ploadu<P>(dk + u * rs + j * W);
      vacc[j] = ploadu<P>(dv + u * rs + j * W);
    }
    for (int r = 0; r < kRowBlock; ++r) {
      const P sb = pset1<P>(ds[r][u]), ab = pset1<P>(a[r][u]);
      for (int j = 0; j < NP; ++j) {
        kacc[j] = pmadd(sb, qr[r][j], kacc[j]);
        vacc[j] = pmadd(ab, dyr[r][j], vacc[j]);
      }
    }
    for (int j = 0; j < NP; ++j) {
      pstoreu(dk + u * rs + j * W, kacc[j]);
      pstoreu(dv + u * rs + j * W, vacc[j]);
    }
  }
}

// x^T of rows x[u] (stride rs), u < T, into xt [hd, Tp], zero past T; hd is a multiple of the
// packet size. Square blocks of packets are transposed in registers.
template <typename S>
void pack_transposed(S* xt, const S* x, long rs, int T, int Tp, int hd) {
  using P = Packet<S>;
  constexpr int W = kPacket<S>;
  int u0 = 0;
  for (; u0 + W <= T; u0 += W)
    for (int d0 = 0; d0 < hd; d0 += W) {
// (GCC warns that the vector type's alignment attribute is dropped in the template argument;
// PacketBlock only stores packets, which is how Eigen uses it itself.)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
      Eigen::internal::PacketBlock<P, W> block;
#pragma GCC diagnostic pop
      for (int i = 0; i < W; ++i) block.packet[i] = ploadu<P>(x + (u0 + i) * rs + d0);
      Eigen::internal::ptranspose(block);
      for (int i = 0; i < W; ++i) pstoreu(xt + long(d0 + i) * Tp + u0, block.packet[i]);
    }
  for (int d = 0; d < hd; ++d) {
    S* o = xt + (long)d * Tp;
    for (int u = u0; u < T; ++u) o[u] = x[u * rs + d];
    for (int u = T; u < Tp; ++u) o[u] = 0;
  }
}

template <typename S, int NP>
void head_forward_simd(S* y, S* A, S* scratch, const S* q, const S* k, const S* v, long rs,
                       long ldy, int T, int hd, S scale) {
  const int Tp = int(round_up(T, kPacket<S>));
  S* kt = scratch;                   // [hd, Tp]
  S* srow = kt + (long)hd * Tp;      // [kRowBlock, Tp]
  S* zeros = srow + kRowBlock * Tp;  // [Tp]
  std::fill(zeros, zeros + Tp, S(0));
  pack_transposed(kt, k, rs, T, Tp, hd);
  for (int t0 = 0; t0 < T; t0 += kRowBlock) {
    const int rows = std::min(kRowBlock, T - t0), nu = t0 + rows;
    const S* x[kRowBlock];
    for (int r = 0; r < kRowBlock; ++r) x[r] = q + std::min(t0 + r, T - 1) * rs;
    rows_dot_cols(srow, Tp, x, kt, Tp, hd, int(round_up(nu, kPacket<S>)));
    const S* w[kRowBlock];
    S* out[kRowBlock];
    for (int r = 0; r < kRowBlock; ++r) {
      w[r] = zeros, out[r] = nullptr;
      if (r >= rows) continue;
      const int t = t0 + r;
      S* a = A + (long)t * T;
      // softmax of the scores s[0, t] into a[0, t]
      S* s = srow + r * Tp;
      const S shift = max_lanes(s, t + 1) * scale;
      exp_inplace(s, t + 1, scale, shift);
      const S inv = S(1) / sum_lanes(s, t + 1);
      for (int u = 0; u <= t; ++u) a[u] = s[u] * inv;
      for (int u = t + 1; u < nu; ++u) a[u] = 0;  // the future, inside the block
      w[r] = a, out[r] = y + t * ldy;
    }
    rows_weighted_sum<S, NP>(out, w, v, rs, nu);
  }
}

template <typename S, int NP>
void head_backward_simd(S* dq, S* dk, S* dv, S* scratch, const S* dy, long ldy, const S* A,
                        const S* q, const S* k, const S* v, long rs, int T, int hd, S scale) {
  const int Tp = int(round_up(T, kPacket<S>));
  S* vt = scratch;                   // [hd, Tp]
  S* srow = vt + (long)hd * Tp;      // [kRowBlock, Tp]
  S* zeros = srow + kRowBlock * Tp;  // [Tp]
  S* gk = zeros + Tp;                // [T, hd]: dK and dV accumulate here, contiguous
  S* gv = gk + (long)T * hd;         // (rows of dqkv are 3C apart: poor for the cache)
  std::fill(zeros, zeros + Tp, S(0));
  std::fill(gk, gk + 2L * T * hd, S(0));
  pack_transposed(vt, v, rs, T, Tp, hd);
  for (int t0 = 0; t0 < T; t0 += kRowBlock) {
    const int rows = std::min(kRowBlock, T - t0), nu = t0 + rows;
    const S *x[kRowBlock], *qr[kRowBlock], *w[kRowBlock], *a[kRowBlock];
    S* out[kRowBlock];
    for (int r = 0; r < kRowBlock; ++r) {
      x[r] = dy + std::min(t0 + r, T - 1) * ldy;
      qr[r] = q + std::min(t0 + r, T - 1) * rs;
    }
    rows_dot_cols(srow, Tp, x, vt, Tp, hd, int(round_up(nu, kPacket<S>)));  // dA = dY V^T
    for (int r = 0; r < kRowBlock; ++r) {
      S* d = srow + r * Tp;
      if (r >= rows) {  // rows past the end: no weight
        w[r] = a[r] = zeros, out[r] = nullptr;
        continue;
      }
      // softmax backward, then the 1/sqrt(hd) scale: dS = A * (dA - rowdot(dA, A)) * scale
      const int t = t0 + r;
      const S* ar = A + (long)t * T;
      const S dot = dot_lanes(d, ar, t + 1);
      for (int u = 0; u <= t; ++u) d[u] = ar[u] * (d[u] - dot) * scale;
      for (int u = t + 1; u < nu; ++u) d[u] = 0;
      w[r] = d, a[r] = ar, out[r] = dq + t * rs;
    }
    rows_weighted_sum<S, NP>(out, w, k, rs, nu);      // dQ = dS K
    rank_update<S, NP>(gk, gv, hd, w, a, qr, x, nu);  // dK = dS^T Q, dV = A^T dY
  }
  for (int u = 0; u < T; ++u) {
    std::copy(gk + (long)u * hd, gk + (long)(u + 1) * hd, dk + u * rs);
    std::copy(gv + (long)u * hd, gv + (long)(u + 1) * hd, dv + u * rs);
  }
}

template <typename S>
void head_forward_gemm(S* y, S* A, const S* q, const S* k, const S* v, long rs, long ldy, int T,
                       int hd, S scale) {
  for (int t0 = 0; t0 < T; t0 += kQueryBlock) {
    const int t1 = std::min(T, t0 + kQueryBlock), n = t1 - t0;
    S* Ab = A + (long)t0 * T;
    gemm(Ab, T, q + t0 * rs, rs, false, k, rs, true, n, t1, hd, false);  // scores
    for (int t = t0; t < t1; ++t) {
      S* a = A + (long)t * T;
      softmax_row(a, t + 1, scale);
      for (int u = t + 1; u < t1; ++u) a[u] = 0;  // the future, inside the diagonal block
    }
    gemm(y + t0 * ldy, ldy, Ab, T, false, v, rs, false, n, hd, t1, false);
  }
}

template <typename S>
void head_backward_gemm(S* dq, S* dk, S* dv, S* scratch, const S* dy, long ldy, const S* A,
                        const S* q, const S* k, const S* v, long rs, int T, int hd, S scale) {
  // Last block first: it sees every key, so it sets dk and dv; the earlier ones add.
  const int last = (T - 1) / kQueryBlock * kQueryBlock;
  for (int t0 = last; t0 >= 0; t0 -= kQueryBlock) {
    const int t1 = std::min(T, t0 + kQueryBlock), n = t1 - t0;
    const bool first = t0 == last;
    const S* Ab = A + (long)t0 * T;
    S* dA = scratch;  // [n, t1], row stride T
    gemm(dv, rs, Ab, T, true, dy + t0 * ldy, ldy, false, t1, hd, n, !first);
    gemm(dA, T, dy + t0 * ldy, ldy, false, v, rs, true, n, t1, hd, false);
    for (int t = t0; t < t1; ++t) {
      const S* a = A + (long)t * T;
      S* d = dA + (long)(t - t0) * T;
      const S dot = dot_lanes(d, a, t + 1);
      for (int u = 0; u <= t; ++u) d[u] = a[u] * (d[u] - dot) * scale;
      for (int u = t + 1; u < t1; ++u) d[u] = 0;
    }
    gemm(dq + t0 * rs, rs, dA, T, false, k, rs, false, n, hd, t1, false);
    gemm(dk, rs, dA, T, true, q + t0 * rs, rs, false, t1, hd, n, !first);
  }
}
}  // namespace

template <typename S>
long attention_scratch_size(int T, int C, int H) {
  const long hd = C / H, Tp = round_up(T, kPacket<S>);
  return std::max(long(T) * T, (hd + kRowBlock + 1) * Tp + 2 * T * hd);
}

template <typename S>
void attention_forward(S* out, S* att, S* scratch, const S* qkv, int B, int T, int C, int H) {
  const int hd = C / H, np = head_packets<S>(hd);
  const S scale = S(1) / std::sqrt(S(hd));
  const long rs = 3L * C;  // row stride of qkv
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const S* q = qkv + (long)b * T * rs + h * hd;
      S* A = att + ((long)b * H + h) * T * T;
      S* y = out + (long)b * T * C + h * hd;
      switch (np) {
        case 1:
          head_forward_simd<S, 1>(y, A, scratch, q, q + C, q + 2 * C, rs, C, T, hd, scale);
          break;
        case 2:
          head_forward_simd<S, 2>(y, A, scratch, q, q + C, q + 2 * C, rs, C, T, hd, scale);
          break;
        case 4:
          head_forward_simd<S, 4>(y, A, scratch, q, q + C, q + 2 * C, rs, C, T, hd, scale);
          break;
        case 8:
          head_forward_simd<S, 8>(y, A, scratch, q, q + C, q + 2 * C, rs, C, T, hd, scale);
          break;
        default:
          head_forward_gemm(y, A, q, q + C, q + 2 * C, rs, C, T, hd, scale);
      }
    }
}

template <typename S>
void attention_backward(S* dqkv, S* scratch, const S* dout, const S* att, const S* qkv, int B,
                        int T, int C, int H) {
  const int hd = C / H, np = head_packets<S>(hd);
  const S scale = S(1) / std::sqrt(S(hd));
  const long rs = 3L * C;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const long off = (long)b * T * rs + h * hd;
      const S *q = qkv + off, *k = q + C, *v = q + 2 * C;
      S *dq = dqkv + off, *dk = dq + C, *dv = dq + 2 * C;
      const S* A = att + ((long)b * H + h) * T * T;
      const S* dy = dout + (long)b * T * C + h * hd;
      switch (np) {
        case 1:
          head_backward_simd<S, 1>(dq, dk, dv, scratch, dy, C, A, q, k, v, rs, T, hd, scale);
          break;
        case 2:
          head_backward_simd<S, 2>(dq, dk, dv, scratch, dy, C, A, q, k, v, rs, T, hd, scale);
          break;
        case 4:
          head_backward_simd<S, 4>(dq, dk, dv, scratch, dy, C, A, q, k, v, rs, T, hd, scale);
          break;
        case 8:
          head_backward_simd<S, 8>(dq, dk, dv, scratch, dy, C, A, q, k, v, rs, T, hd, scale);
          break;
        default:
          head_backward_gemm(dq, dk, dv, scratch, dy, C, A, q, k, v, rs, T, hd, scale);
      }
    }
}

// ---------------------------------------------------------------------------------------------
// One query per sequence: a few hundred multiply-adds per head, plain loops.
template <typename S>
void attention_last_forward(S* out, S* att, const S* q, const S* qkv, int B, int T, int C, int H) {
  const int hd = C / H;
  const S scale = S(1) / std::sqrt(S(hd));
  const long rs = 3L * C;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const S* qh = q + (long)b * C + h * hd;
      const S* k = qkv + (long)b * T * rs + C + h * hd;
      const S* v = k + C;
      S* a = att + ((long)b * H + h) * T;
      for (int u = 0; u < T; ++u) a[u] = dot_lanes(qh, k + u * rs, hd);
      softmax_row(a, T, scale);
      S* y = out + (long)b * C + h * hd;
      std::fill(y, y + hd, S(0));
      for (int u = 0; u < T; ++u)
        for (int d = 0; d < hd; ++d) y[d] += a[u] * v[u * rs + d];
    }
}

template <typename S>
void attention_last_backward(S* dq, S* dqkv, const S* dout, const S* att, const S* q, const S* qkv,
                             int B, int T, int C, int H) {
  const int hd = C / H;
  const S scale = S(1) / std::sqrt(S(hd));
  const long rs = 3L * C;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < H; ++h) {
      const S* qh = q + (long)b * C + h * hd;
      const long off = (long)b * T * rs + C + h * hd;
      const S *k = qkv + off, *v = k + C;
      S *dk = dqkv + off, *dv = dk + C;
      const S* a = att + ((long)b * H + h) * T;
      const S* dy = dout + (long)b * C + h * hd;
      S* dqh = dq + (long)b * C + h * hd;
      // dA[u] = dy . v[u]; dS = A * (dA - A . dA) * scale. dA is recomputed rather than stored.
      S dot = 0;
      for (int u = 0; u < T; ++u) dot += a[u] * dot_lanes(dy, v + u * rs, hd);
      std::fill(dqh, dqh + hd, S(0));
      for (int u = 0; u < T; ++u) {
        const S ds = a[u] * (dot_lanes(dy, v + u * rs, hd) - dot) * scale;
        for (int d = 0; d < hd; ++d) {
          dqh[d] += ds * k[u * rs + d];
          dk[u * rs + d] = ds * qh[d];
          dv[u * rs + d] = a[u] * dy[d];
        }
      }
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
#define TF_INSTANTIATE(S)                                                                          \
  template void gemm<S>(S*, long, const S*, long, bool, const S*, long, bool, int, int, int,       \
                        bool);                                                                     \
  template void colsum_add<S>(S*, const S*, long, int, int);                                       \
  template void linear_forward<S>(S*, const S*, const S*, const S*, const S*, int, int, int);      \
  template void linear_backward<S>(S*, S*, S*, const S*, const S*, const S*, int, int, int, Grad); \
  template void linear_forward_par<S>(S*, const S*, const S*, const S*, int, int, int);            \
  template void linear_backward_par<S>(S*, S*, S*, const S*, const S*, const S*, int, int, int,    \
                                       Grad);                                                      \
  template void embedding_forward<S>(S*, const int32_t*, const S*, const S*, int, int, int);       \
  template void embedding_backward<S>(S*, S*, const S*, const int32_t*, int, int, int, int, int);  \
  template void layernorm_forward<S>(S*, S*, S*, const S*, const S*, const S*, int, int);          \
  template void layernorm_backward<S>(S*, S*, S*, const S*, const S*, const S*, const S*,          \
                                      const S*, int, int, Grad);                                   \
  template void activation_forward<S>(S*, const S*, long, Activation);                             \
  template void activation_backward<S>(S*, const S*, const S*, long, Activation, Grad);            \
  template void rope_table<S>(S*, int, int, double);                                               \
  template void rope_forward<S>(S*, long, int, int, int, int, int, const S*, RopeStyle);           \
  template void rope_backward<S>(S*, long, int, int, int, int, int, const S*, RopeStyle);          \
  template long attention_scratch_size<S>(int, int, int);                                          \
  template void attention_forward<S>(S*, S*, S*, const S*, int, int, int, int);                    \
  template void attention_backward<S>(S*, S*, const S*, const S*, const S*, int, int, int, int);   \
  template void attention_last_forward<S>(S*, S*, const S*, const S*, int, int, int, int);         \
  template void attention_last_backward<S>(S*, S*, const S*, const S*, const S*, const S*, int,    \
                                           int, int, int);                                         \
  template void crossentropy_forward<S>(S*, S*, const S*, const int32_t*, int, int);               \
  template void crossentropy_backward<S>(S*, const S*, const int32_t*, int, int, S);               \
  template void dropout_apply<S>(S*, const S*, const uint32_t*, int, int, S);                      \
  template void dropout_forward<S>(S*, const S*, uint32_t*, int, int, const Dropout&);             \
  template void dropout_residual_forward<S>(S*, const S*, const S*, uint32_t*, int, int,           \
                                            const Dropout&);

TF_INSTANTIATE(float)
TF_INSTANTIATE(double)

}  // namespace tinyfront::layers
