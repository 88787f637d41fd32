// The layers, each a pair of plain *_forward / *_backward functions over flat row-major buffers
// (in the manner of llm.c). Shapes are given in the argument names: N rows, C channels, etc.
// Backward functions ACCUMULATE (+=) into parameter gradients and into input gradients, so that
// residual branches simply add up. Templated on the scalar: float for training, double for tests.
#pragma once

#include <cstdint>

#include "tinyfront/model/config.hpp"

namespace tinyfront::layers {

// out[N,OC] = inp[N,IC] * W[IC,OC] + b[OC]   (b may be null)
template <typename S>
void linear_forward(S* out, const S* inp, const S* W, const S* b, int N, int IC, int OC);
// dinp may be null (first layer over an embedding that needs no input gradient).
template <typename S>
void linear_backward(S* dinp, S* dW, S* db, const S* dout, const S* inp, const S* W, int N, int IC,
                     int OC);

// out[B*T,C] = wte[tokens] (+ wpe[t] when wpe != null)
template <typename S>
void embedding_forward(S* out, const int32_t* tokens, const S* wte, const S* wpe, int B, int T,
                       int C);
template <typename S>
void embedding_backward(S* dwte, S* dwpe, const S* dout, const int32_t* tokens, int B, int T, int C);

// Row-wise LayerNorm with eps 1e-5 (PyTorch's default). Saves mean and 1/std per row.
template <typename S>
void layernorm_forward(S* out, S* mean, S* rstd, const S* inp, const S* gamma, const S* beta, int N,
                       int C);
template <typename S>
void layernorm_backward(S* dinp, S* dgamma, S* dbeta, const S* dout, const S* inp, const S* gamma,
                        const S* mean, const S* rstd, int N, int C);

// Elementwise activations. Backward accumulates into dinp given the pre-activation input.
template <typename S>
void activation_forward(S* out, const S* inp, long n, Activation act);
template <typename S>
void activation_backward(S* dinp, const S* dout, const S* inp, long n, Activation act);

// Rotary position embedding applied in place to the q and k parts of qkv[B,T,3C].
// Backward applies the inverse rotation to dqkv in place.
template <typename S>
void rope_forward(S* qkv, int B, int T, int C, int H, double base, RopeStyle style);
template <typename S>
void rope_backward(S* dqkv, int B, int T, int C, int H, double base, RopeStyle style);

// Causal multi-head attention. qkv[B,T,3C] holds q, k, v side by side in each row;
// att[B,H,T,T] keeps the softmax probabilities for backward; out[B,T,C].
template <typename S>
void attention_forward(S* out, S* att, const S* qkv, int B, int T, int C, int H);
template <typename S>
void attention_backward(S* dqkv, const S* dout, const S* att, const S* qkv, int B, int T, int C,
                        int H);

// Softmax cross-entropy. probs[N,V] receives softmax(logits); losses[N] the per-row NLL.
template <typename S>
void crossentropy_forward(S* probs, S* losses, const S* logits, const int32_t* targets, int N, int V);
// dlogits[N,V] = (probs - onehot(targets)) * scale   (scale = 1/N for a mean loss). Overwrites.
template <typename S>
void crossentropy_backward(S* dlogits, const S* probs, const int32_t* targets, int N, int V, S scale);

// Inverted dropout with a precomputed mask of 0 or 1/(1-p): out = inp * mask.
template <typename S>
void dropout_forward(S* out, const S* inp, const S* mask, long n);

}  // namespace tinyfront::layers
