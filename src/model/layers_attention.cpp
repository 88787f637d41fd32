// Causal multi-head attention and rotary position embeddings (layers.hpp).
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
#define TF_INSTANTIATE(S)                                                                        \
  template void rope_table<S>(S*, int, int, double);                                             \
  template void rope_forward<S>(S*, long, int, int, int, int, int, const S*, RopeStyle);         \
  template void rope_backward<S>(S*, long, int, int, int, int, int, const S*, RopeStyle);        \
  template long attention_scratch_size<S>(int, int, int);                                        \
  template void attention_forward<S>(S*, S*, S*, const S*, int, int, int, int);                  \
  template void attention_backward<S>(S*, S*, const S*, const S*, const S*, int, int, int, int); \
  template void attention_last_forward<S>(S*, S*, const S*, const S*, int, int, int, int);       \
  template void attention_last_backward<S>(S*, S*, const S*, const S*, const S*, const S*, int,  \
                                           int, int, int);

TF_INSTANTIATE(float)
TF_INSTANTIATE(double)

}  // namespace tinyfront::layers
