// Private to the model (src/model/model*.cpp): buffer sizing, dropout streams, the thread split,
// and the two families' forward and backward passes that model_forward / model_backward call.
#pragma once

#include <omp.h>

#include <algorithm>
#include <vector>

#include "tinyfront/model/layers.hpp"
#include "tinyfront/model/model.hpp"

namespace tinyfront::model_detail {

using namespace layers;

template <typename S>
void resize(std::vector<S>& v, long n) {
  v.assign(size_t(n), S(0));
}

// Dropout streams: which site of a step a mask belongs to (see layers::Dropout).
constexpr uint32_t kEmbeddingStream = 0;
inline uint32_t attproj_stream(int l) {
  return 1 + 2 * uint32_t(l);
}
inline uint32_t fcproj_stream(int l) {
  return 2 + 2 * uint32_t(l);
}
inline uint32_t hidden_stream(size_t i) {
  return 1 + uint32_t(i);
}
inline void resize_mask(std::vector<uint32_t>& bits, long rows, int C) {
  bits.assign(size_t(rows * mask_words(C)), 0u);
}

// Runs fn(lo, hi) on a static split of [0, n) between the threads.
template <typename F>
void parallel_range(long n, F fn) {
#pragma omp parallel
  {
    const long parts = omp_get_num_threads(), me = omp_get_thread_num();
    fn(n * me / parts, n * (me + 1) / parts);
  }
}

// Whether block l computes the last position of each window only (see Model::Block).
template <typename S>
bool last_only(const Model<S>& m, int l) {
  return m.protocol == Protocol::paper && l == m.cfg.blocks() - 1;
}

template <typename S>
void ensure_workspace(Model<S>& m) {
  const size_t threads = size_t(std::max(1, omp_get_max_threads()));
  if (!m.cfg.is_attention_family() || m.work.size() >= threads) return;
  const long T = m.cfg.context, C = m.cfg.d_model, F = m.cfg.ff;
  const long spt = sequences_per_tile(int(T)), rows = spt * T;
  const size_t first_new = m.work.size();
  m.work.resize(threads);
  for (size_t t = first_new; t < threads; ++t) {
    auto& w = m.work[t];
    if (t > 0) resize(w.grads, long(m.params.size()));
    resize(w.g_stream, rows * C), resize(w.g_a, rows * C), resize(w.g_b, rows * C);
    resize(w.g_qkv, rows * 3 * C), resize(w.g_f, rows * F);
    resize(w.g_att, attention_scratch_size<S>(int(T), int(C), m.cfg.heads));
    resize(w.g_last, spt * C), resize(w.g_q, spt * C);
  }
}

// The linear and MLP models (model_mlp.cpp): forward to the logits of m.inputs, and backward
// from the probabilities the loss left in m.logits.
template <typename S>
void mlp_forward(Model<S>& m, int B, bool drop, Rng* rng);
template <typename S>
void mlp_backward(Model<S>& m);

// The attention models (model_transformer.cpp): forward to the losses (when with_targets) in
// tiles of whole sequences, and backward through the same tiles.
template <typename S>
void transformer_forward(Model<S>& m, int B, bool drop, bool with_targets, Rng* rng);
template <typename S>
void transformer_backward(Model<S>& m);

}  // namespace tinyfront::model_detail
