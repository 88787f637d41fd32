// The layers, each a pair of plain *_forward / *_backward functions over flat row-major buffers
// (in the manner of llm.c). Shapes are given in the argument names: N rows, C channels, etc.
// Templated on the scalar: float for training, double for tests.
//
// Threads. Every function here is serial over the rows it is given, except linear_forward_par /
// linear_backward_par: the model decides how work is split between threads (whole sequences per
// thread for the attention models, output blocks for the wide single-row layers of the linear and
// MLP models), so that consecutive layers run on a block of rows while it is still in cache and
// no layer pays for a parallel region of its own.
//
// Gradients. Parameter gradients are always ACCUMULATED (+=). Input gradients are written as the
// caller asks (Grad::set overwrites, Grad::add accumulates, for residual branches), so that no
// buffer needs to be zeroed first.
//
// Reproducibility. Reductions (sums over a row, over a batch) run in a fixed order that does not
// depend on where a buffer sits in memory or on how many threads run, and every element of a
// softmax goes through the same vectorised exp (never a scalar one for the ends of a buffer, as
// Eigen's array expressions would do depending on alignment). A run is therefore bit-for-bit
// repeatable for a given thread count.
#pragma once

#include <cstdint>

#include "tinyfront/model/config.hpp"

namespace tinyfront::layers {

enum class Grad { set, add };

// C[M,N] (=, or += when accumulate) op(A) op(B), where op(A) is [M,K] and op(B) is [K,N]. Row-major
// with leading dimensions (row strides) lda, ldb, ldc, so that column blocks of wider matrices and
// every T-th row can be used in place. Serial (Eigen on maps; called inside our own parallel
// regions, Eigen does not start threads of its own).
template <typename S>
void gemm(S* C, long ldc, const S* A, long lda, bool transA, const S* B, long ldb, bool transB,
          int M, int N, int K, bool accumulate);

// ---------------------------------------------------------------------------------------------
// out[N,OC] = inp[N,IC] W[IC,OC] + b (+ res[N,OC])   (b and res may be null)
// The bias (and residual) is written first and the product added onto it: the same single pass
// over out that a plain product makes, so the elementwise tail costs nothing.
template <typename S>
void linear_forward(S* out, const S* inp, const S* W, const S* b, const S* res, int N, int IC,
                    int OC);
// dinp[N,IC] (set|add) dout W^T (skipped when dinp is null); dW += inp^T dout; db += colsum(dout).
template <typename S>
void linear_backward(S* dinp, S* dW, S* db, const S* dout, const S* inp, const S* W, int N, int IC,
                     int OC, Grad mode);

// db[0,OC) += column sums of dout[N,OC] (row stride ld), rows in order: a bias gradient.
template <typename S>
void colsum_add(S* db, const S* dout, long ld, int N, int OC);

// The same layer parallelised over its outputs, for few rows and wide matrices (the linear and
// MLP models: 64 rows of 16,384 inputs). Each output element is computed by exactly one thread.
// linear_backward_par adds to dinp (Grad::add) or sets it.
template <typename S>
void linear_forward_par(S* out, const S* inp, const S* W, const S* b, int N, int IC, int OC);
template <typename S>
void linear_backward_par(S* dinp, S* dW, S* db, const S* dout, const S* inp, const S* W, int N,
                         int IC, int OC, Grad mode);

// ---------------------------------------------------------------------------------------------
// out[B*T,C] = wte[tokens] (+ wpe[t] when wpe != null)
template <typename S>
void embedding_forward(S* out, const int32_t* tokens, const S* wte, const S* wpe, int B, int T,
                       int C);
// Scatters into columns [c0, c1) of dwte (and dwpe) only: callers may split columns across threads.
template <typename S>
void embedding_backward(S* dwte, S* dwpe, const S* dout, const int32_t* tokens, int B, int T, int C,
                        int c0, int c1);

// Row-wise LayerNorm with eps 1e-5 (PyTorch's default). Saves mean and 1/std per row.
template <typename S>
void layernorm_forward(S* out, S* mean, S* rstd, const S* inp, const S* gamma, const S* beta, int N,
                       int C);
template <typename S>
void layernorm_backward(S* dinp, S* dgamma, S* dbeta, const S* dout, const S* inp, const S* gamma,
                        const S* mean, const S* rstd, int N, int C, Grad mode);

// Elementwise activations; out may be inp (in place). ReLU's derivative needs only the sign of
// its input, which its output has too: activation_backward may be given either for ReLU.
// Backward: dinp = dout * f'(inp) (set) or += (add); dinp may be dout (in place, set).
template <typename S>
void activation_forward(S* out, const S* inp, long n, Activation act);
template <typename S>
void activation_backward(S* dinp, const S* dout, const S* inp, long n, Activation act, Grad mode);

// Rotary position embedding, in place, on `rows` rows of `C` channels (H heads) that lie
// `stride` apart; row r is at position pos0 + r % period. cs[T, hd] holds cos and sin of each
// position's angles (rope_table). Backward applies the inverse rotation (in place).
template <typename S>
void rope_table(S* cs, int T, int hd, double base);
template <typename S>
void rope_forward(S* x, long stride, int rows, int period, int pos0, int C, int H, const S* cs,
                  RopeStyle style);
template <typename S>
void rope_backward(S* dx, long stride, int rows, int period, int pos0, int C, int H, const S* cs,
                   RopeStyle style);

// Causal multi-head attention over B sequences of T rows. qkv[B*T,3C] holds q, k, v side by side
// in each row; att[B,H,T,T] keeps the softmax probabilities for backward (only u <= t is
// meaningful; entries above the diagonal may be left unwritten); out[B*T,C]. Blocks of query rows
// only multiply the keys they may see: the upper triangle is skipped, not computed and masked.
// scratch holds attention_scratch_size values (packed keys or values, a few score rows).
// Backward: dqkv is set.
template <typename S>
long attention_scratch_size(int T, int C, int H);
template <typename S>
void attention_forward(S* out, S* att, S* scratch, const S* qkv, int B, int T, int C, int H);
template <typename S>
void attention_backward(S* dqkv, S* scratch, const S* dout, const S* att, const S* qkv, int B,
                        int T, int C, int H);

// Attention of the last position only (the paper protocol's last block): q[B,C] holds one query
// per sequence; keys and values are the k and v parts of qkv[B*T,3C]; att[B,H,T]; out[B,C].
// Backward: dq[B,C] is set, and the k and v parts of dqkv are set (its q part is not touched).
template <typename S>
void attention_last_forward(S* out, S* att, const S* q, const S* qkv, int B, int T, int C, int H);
template <typename S>
void attention_last_backward(S* dq, S* dqkv, const S* dout, const S* att, const S* q, const S* qkv,
                             int B, int T, int C, int H);

// Softmax cross-entropy. probs[N,V] receives softmax(logits) (probs may be logits: in place);
// losses[N] the per-row NLL.
template <typename S>
void crossentropy_forward(S* probs, S* losses, const S* logits, const int32_t* targets, int N,
                          int V);
// dlogits[N,V] = (probs - onehot(targets)) * scale   (scale = 1/N for a mean loss). Overwrites;
// dlogits may be probs.
template <typename S>
void crossentropy_backward(S* dlogits, const S* probs, const int32_t* targets, int N, int V,
                           S scale);

// Inverted dropout: each element is kept with probability 1 - p and scaled by 1 / (1 - p). The
// mask is one bit per element, rows of mask_words(C) 32-bit words, drawn from a counter-based
// generator (Philox-4x32-10) keyed by (key, stream, row, column): a row's mask is the same
// whichever thread draws it and in whatever order, so masks do not depend on the thread count.
// The trainer takes one key per step from its dropout generator; stream tells the sites of one
// step apart (the embeddings, each block's two projections, each MLP hidden layer).
struct Dropout {
  double p = 0;      // drop probability, [0, 1)
  uint64_t key = 0;  // one per step
  uint32_t stream = 0;
  uint64_t row0 = 0;  // global row index of the first row given (rows of the whole batch)
};
inline long mask_words(int C) {
  return (C + 31) / 32;
}
// The mask of one row: bits[0, mask_words(C)); element c is kept when bit c is set.
void dropout_mask_row(uint32_t* bits, int C, uint64_t row, uint32_t stream, uint64_t key,
                      uint32_t threshold);
uint32_t dropout_threshold(double p);  // a word below it drops its element
// out[rows,C] = inp * mask * scale (out may be inp): forward with a stored mask, and backward.
template <typename S>
void dropout_apply(S* out, const S* inp, const uint32_t* bits, int rows, int C, S scale);
// Draws the masks of rows [d.row0, d.row0 + rows) into bits and applies them: out = drop(inp).
template <typename S>
void dropout_forward(S* out, const S* inp, uint32_t* bits, int rows, int C, const Dropout& d);
// The same, fused with a residual add: out = res + drop(inp) (out may be res).
template <typename S>
void dropout_residual_forward(S* out, const S* res, const S* inp, uint32_t* bits, int rows, int C,
                              const Dropout& d);

}  // namespace tinyfront::layers
