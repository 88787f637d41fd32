// Linear layers and the GEMM they are written with (layers.hpp).
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
#define TF_INSTANTIATE(S)                                                                          \
  template void gemm<S>(S*, long, const S*, long, bool, const S*, long, bool, int, int, int,       \
                        bool);                                                                     \
  template void colsum_add<S>(S*, const S*, long, int, int);                                       \
  template void linear_forward<S>(S*, const S*, const S*, const S*, const S*, int, int, int);      \
  template void linear_backward<S>(S*, S*, S*, const S*, const S*, const S*, int, int, int, Grad); \
  template void linear_forward_par<S>(S*, const S*, const S*, const S*, int, int, int);            \
  template void linear_backward_par<S>(S*, S*, S*, const S*, const S*, const S*, int, int, int,    \
                                       Grad);

TF_INSTANTIATE(float)
TF_INSTANTIATE(double)

}  // namespace tinyfront::layers
