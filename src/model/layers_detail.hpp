// Private to the layers (src/model/layers_*.cpp): Eigen views of row-major buffers, SIMD
// packets, and the fixed-order reductions (sums, maxima, dot products, exp, softmax) that make
// every layer's result independent of where a buffer sits in memory and of the thread count
// (layers.hpp, "Reproducibility").
#pragma once

#include <Eigen/Core>
#include <algorithm>

namespace tinyfront::layers::detail {

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
inline void split(int n, int parts, int i, int align, int& lo, int& hi) {
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

}  // namespace tinyfront::layers::detail
