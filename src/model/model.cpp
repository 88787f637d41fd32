#include "tinyfront/model/model.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

#include "tinyfront/model/layers.hpp"

namespace tinyfront {

using namespace layers;

// ---------------------------------------------------------------------------------------------
// Parameter layout. The order here is the order in which forward/backward walk the tensors.

namespace {
struct LayoutBuilder {
  std::vector<ParamTensor> tensors;
  long offset = 0;
  void add(const std::string& name, int rows, int cols, bool embedding, bool decay, ParamInit init,
           int fan_in = 0, bool residual_out = false) {
    tensors.push_back({name, offset, rows, cols, embedding, decay, init, fan_in, residual_out});
    offset += long(rows) * cols;
  }
  void embedding(const std::string& name, int rows, int cols) {
    add(name, rows, cols, true, false, ParamInit::normal);
  }
  void linear(const std::string& name, int in, int out, bool residual_out = false) {
    add(name + ".weight", in, out, false, true, ParamInit::fan_in_uniform, in, residual_out);
    add(name + ".bias", out, 1, false, false, ParamInit::fan_in_uniform, in);
  }
  void layernorm(const std::string& name, int C) {
    add(name + ".weight", C, 1, false, false, ParamInit::one);
    add(name + ".bias", C, 1, false, false, ParamInit::zero);
  }
};
}  // namespace

std::vector<ParamTensor> param_layout(const ModelConfig& cfg) {
  LayoutBuilder L;
  const int V = cfg.vocab, T = cfg.context, C = cfg.d_model;
  switch (cfg.arch) {
    case Arch::linear:
      if (cfg.one_hot) {
        L.linear("head", T * V, V);
      } else {
        L.embedding("wte", V, C);
        L.linear("head", T * C, V);
      }
      break;
    case Arch::mlp: {
      L.embedding("wte", V, C);
      int in = T * C;
      for (size_t i = 0; i < cfg.hidden.size(); ++i) {
        L.linear("fc" + std::to_string(i), in, cfg.hidden[i]);
        in = cfg.hidden[i];
      }
      L.linear("head", in, V);
      break;
    }
    case Arch::attention:
    case Arch::transformer: {
      L.embedding("wte", V, C);
      if (cfg.positions == Positions::learned) L.embedding("wpe", T, C);
      for (int l = 0; l < cfg.blocks(); ++l) {
        std::string p = "block" + std::to_string(l) + ".";
        L.layernorm(p + "ln1", C);
        L.linear(p + "qkv", C, 3 * C);
        L.linear(p + "proj", C, C, /*residual_out=*/true);
        L.layernorm(p + "ln2", C);
        L.linear(p + "fc", C, cfg.ff);
        L.linear(p + "fc2", cfg.ff, C, /*residual_out=*/true);
      }
      L.layernorm("lnf", C);
      L.linear("head", C, V);
      break;
    }
  }
  return L.tensors;
}

int64_t count_params(const ModelConfig& cfg) {
  int64_t n = 0;
  for (auto& t : param_layout(cfg)) n += t.size();
  return n;
}

int64_t count_embedding_params(const ModelConfig& cfg) {
  int64_t n = 0;
  for (auto& t : param_layout(cfg))
    if (t.embedding) n += t.size();
  return n;
}

int targets_per_window(const ModelConfig& cfg, Protocol protocol) {
  return (protocol == Protocol::causal && cfg.is_attention_family()) ? cfg.context : 1;
}

// ---------------------------------------------------------------------------------------------

namespace {
// Walks the parameter (or gradient) buffer in layout order.
template <typename S>
struct Cursor {
  S* base;
  const std::vector<ParamTensor>* tensors;
  size_t i = 0;
  S* next() { return base + (*tensors)[i++].offset; }
};

template <typename S>
void resize(std::vector<S>& v, long n) {
  v.assign(size_t(n), S(0));
}

// Dropout streams: which site of a step a mask belongs to (see layers::Dropout).
constexpr uint32_t kEmbeddingStream = 0;
uint32_t attproj_stream(int l) {
  return 1 + 2 * uint32_t(l);
}
uint32_t fcproj_stream(int l) {
  return 2 + 2 * uint32_t(l);
}
uint32_t hidden_stream(size_t i) {
  return 1 + uint32_t(i);
}
void resize_mask(std::vector<uint32_t>& bits, long rows, int C) {
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

// Offsets of one transformer block's tensors in the flat parameter (and gradient) buffer.
struct BlockOffsets {
  long ln1_g, ln1_b, qkv_w, qkv_b, proj_w, proj_b, ln2_g, ln2_b, fc_w, fc_b, fc2_w, fc2_b;
};
template <typename S>
BlockOffsets block_offsets(const Model<S>& m, int l) {
  const size_t k = (m.cfg.positions == Positions::learned ? 2 : 1) + 12 * size_t(l);
  auto o = [&](size_t i) { return m.tensors[k + i].offset; };
  return {o(0), o(1), o(2), o(3), o(4), o(5), o(6), o(7), o(8), o(9), o(10), o(11)};
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
}  // namespace

template <typename S>
Model<S> model_create(const ModelConfig& cfg, Protocol protocol, int max_batch) {
  if (cfg.vocab <= 0) throw std::invalid_argument("model: vocab must be set (> 0)");
  if (cfg.context <= 0) throw std::invalid_argument("model: context must be > 0");
  if (cfg.is_attention_family() && cfg.d_model % cfg.heads != 0)
    throw std::invalid_argument("model: heads must divide d_model");
  if (cfg.positions == Positions::rope && (cfg.d_model / cfg.heads) % 2 != 0)
    throw std::invalid_argument("model: rope needs an even head dimension");

  Model<S> m;
  m.cfg = cfg;
  m.protocol = protocol;
  m.max_batch = max_batch;
  m.tensors = param_layout(cfg);
  long P = 0;
  for (auto& t : m.tensors) P += t.size();
  resize(m.params, P);
  resize(m.grads, P);

  const long B = max_batch, T = cfg.context, C = cfg.d_model, V = cfg.vocab;
  const long R = B * targets_per_window(cfg, protocol);  // rows of logits
  const bool drop = cfg.dropout > 0;
  switch (cfg.arch) {
    case Arch::linear:
      if (!cfg.one_hot) {
        resize(m.emb, B * T * C);
        resize(m.g_a, B * T * C);
      }
      break;
    case Arch::mlp: {
      resize(m.emb, B * T * C);
      resize(m.g_a, B * T * C);
      size_t nh = cfg.hidden.size();
      m.hid.resize(nh), m.hid_mask.resize(nh), m.g_hid.resize(nh);
      for (size_t i = 0; i < nh; ++i) {
        resize(m.hid[i], B * cfg.hidden[i]);
        resize(m.g_hid[i], B * cfg.hidden[i]);
        if (drop) resize_mask(m.hid_mask[i], B, cfg.hidden[i]);
      }
      break;
    }
    case Arch::attention:
    case Arch::transformer: {
      const long N = B * T, F = cfg.ff, H = cfg.heads;
      const bool pre = cfg.norm == Norm::pre, gelu = cfg.activation != Activation::relu;
      resize(m.emb, N * C);
      if (drop) resize_mask(m.emb_mask, N, int(C));
      m.blocks.resize(cfg.blocks());
      for (int l = 0; l < cfg.blocks(); ++l) {
        auto& b = m.blocks[l];
        const bool last = last_only(m, l);
        const long rows = last ? B : N;  // rows after attention
        const long ln1_rows = pre ? N : rows;
        resize(b.ln1, ln1_rows * C), resize(b.ln1_mean, ln1_rows), resize(b.ln1_rstd, ln1_rows);
        resize(b.qkv, N * 3 * C), resize(b.att, last ? B * H * T : B * H * T * T);
        resize(b.atty, rows * C), resize(b.res1, rows * C);
        resize(b.ln2, rows * C), resize(b.ln2_mean, rows), resize(b.ln2_rstd, rows);
        if (gelu) resize(b.fch, rows * F);
        resize(b.fcact, rows * F), resize(b.res2, rows * C);
        if (drop) {
          resize(b.attproj, rows * C), resize(b.fcproj, rows * C);
          resize_mask(b.attproj_mask, rows, int(C)), resize_mask(b.fcproj_mask, rows, int(C));
        }
        if (last) resize(b.x_last, B * C), resize(b.q_last, B * C);
      }
      resize(m.lnf, R * C), resize(m.lnf_mean, R), resize(m.lnf_rstd, R);
      if (cfg.positions == Positions::rope) {
        const int hd = int(C / H);
        resize(m.rope_cs, T * hd);
        rope_table(m.rope_cs.data(), int(T), hd, cfg.rope_base);
      }
      break;
    }
  }
  resize(m.logits, R * V), resize(m.losses, R);
  m.inputs.assign(size_t(B * T), 0);
  m.targets.assign(size_t(R), 0);
  ensure_workspace(m);
  return m;
}

template <typename S>
void model_init(Model<S>& m, Rng& rng) {
  // GPT-2: every weight matrix and embedding N(0, 0.02), the projections that write into the
  // residual stream scaled down by sqrt(2 L) (two per block), biases 0, LayerNorm 1 and 0.
  const double gpt2_std = 0.02;
  const double gpt2_residual_std = gpt2_std / std::sqrt(2.0 * std::max(1, m.cfg.blocks()));
  for (auto& t : m.tensors) {
    S* p = m.params.data() + t.offset;
    if (m.cfg.init == Init::gpt2 && t.init != ParamInit::one && t.init != ParamInit::zero) {
      const bool weights = t.embedding || t.decay;
      const double sd = t.residual_out ? gpt2_residual_std : gpt2_std;
      for (long i = 0; i < t.size(); ++i) p[i] = weights ? S(sd * rng.normal()) : S(0);
      continue;
    }
    switch (t.init) {
      case ParamInit::normal:
        for (long i = 0; i < t.size(); ++i) p[i] = S(rng.normal());
        break;
      case ParamInit::fan_in_uniform: {
        const double bound = 1.0 / std::sqrt(double(t.fan_in));
        for (long i = 0; i < t.size(); ++i) p[i] = S((2 * rng.uniform() - 1) * bound);
        break;
      }
      case ParamInit::one:
        std::fill(p, p + t.size(), S(1));
        break;
      case ParamInit::zero:
        std::fill(p, p + t.size(), S(0));
        break;
    }
  }
}

template <typename S>
void model_zero_grad(Model<S>& m) {
  std::fill(m.grads.begin(), m.grads.end(), S(0));
}

// ---------------------------------------------------------------------------------------------
// Attention models, forward: one tile of whole sequences [b0, b0 + nseq) through every layer.

namespace {

// Projection, residual, LayerNorms and feed-forward of a block on `rows` rows starting at row q0
// of the block's post-attention buffers, given the residual input xres of those rows. Returns
// the block output (res2 for pre-norm, ln2 for post-norm).
template <typename S>
const S* block_forward_tail(Model<S>& m, typename Model<S>::Block& blk, int l,
                            const BlockOffsets& o, long q0, int rows, const S* xres, bool drop) {
  const ModelConfig& cfg = m.cfg;
  const int C = cfg.d_model, F = cfg.ff;
  const bool pre = cfg.norm == Norm::pre, gelu = cfg.activation != Activation::relu;
  const long wpr = mask_words(C);
  const S* P = m.params.data();
  const long c0 = q0 * C, f0 = q0 * F;
  S* res1 = blk.res1.data() + c0;
  // res1 = x + proj(attention): the residual is the starting value of the product
  if (drop) {
    S* proj = blk.attproj.data() + c0;
    linear_forward(proj, blk.atty.data() + c0, P + o.proj_w, P + o.proj_b, (const S*)nullptr, rows,
                   C, C);
    dropout_residual_forward(res1, xres, proj, blk.attproj_mask.data() + q0 * wpr, rows, C,
                             Dropout{cfg.dropout, m.dropout_key, attproj_stream(l), uint64_t(q0)});
  } else {
    linear_forward(res1, blk.atty.data() + c0, P + o.proj_w, P + o.proj_b, xres, rows, C, C);
  }
  // feed-forward on LN(res1): ln2 (pre-norm, residual res1) or ln1 (post-norm, residual ln1)
  S *ff_in, *ff_res;
  if (pre) {
    layernorm_forward(blk.ln2.data() + c0, blk.ln2_mean.data() + q0, blk.ln2_rstd.data() + q0, res1,
                      P + o.ln2_g, P + o.ln2_b, rows, C);
    ff_in = blk.ln2.data() + c0, ff_res = res1;
  } else {
    layernorm_forward(blk.ln1.data() + c0, blk.ln1_mean.data() + q0, blk.ln1_rstd.data() + q0, res1,
                      P + o.ln1_g, P + o.ln1_b, rows, C);
    ff_in = ff_res = blk.ln1.data() + c0;
  }
  // ReLU keeps no pre-activation: its backward needs only the sign, which the output has too
  S* act_out = blk.fcact.data() + f0;
  S* act_in = gelu ? blk.fch.data() + f0 : act_out;
  linear_forward(act_in, ff_in, P + o.fc_w, P + o.fc_b, (const S*)nullptr, rows, C, F);
  activation_forward(act_out, act_in, long(rows) * F, cfg.activation);
  S* res2 = blk.res2.data() + c0;
  if (drop) {
    S* proj = blk.fcproj.data() + c0;
    linear_forward(proj, act_out, P + o.fc2_w, P + o.fc2_b, (const S*)nullptr, rows, F, C);
    dropout_residual_forward(res2, ff_res, proj, blk.fcproj_mask.data() + q0 * wpr, rows, C,
                             Dropout{cfg.dropout, m.dropout_key, fcproj_stream(l), uint64_t(q0)});
  } else {
    linear_forward(res2, act_out, P + o.fc2_w, P + o.fc2_b, ff_res, rows, F, C);
  }
  if (pre) return res2;
  layernorm_forward(blk.ln2.data() + c0, blk.ln2_mean.data() + q0, blk.ln2_rstd.data() + q0, res2,
                    P + o.ln2_g, P + o.ln2_b, rows, C);
  return blk.ln2.data() + c0;
}

template <typename S>
void forward_tile(Model<S>& m, int b0, int nseq, bool drop, bool with_targets) {
  const ModelConfig& cfg = m.cfg;
  const int T = cfg.context, C = cfg.d_model, H = cfg.heads, V = cfg.vocab, L = cfg.blocks();
  const bool pre = cfg.norm == Norm::pre, rope = cfg.positions == Positions::rope;
  const bool paper = m.protocol == Protocol::paper;
  const long r0 = long(b0) * T, C3 = 3L * C;
  const int n = nseq * T;
  const S* P = m.params.data();
  const size_t nt = m.tensors.size();

  S* emb = m.emb.data() + r0 * C;
  embedding_forward(emb, m.inputs.data() + r0, P + m.tensors[0].offset,
                    cfg.positions == Positions::learned ? P + m.tensors[1].offset : nullptr, nseq,
                    T, C);
  if (drop)
    dropout_forward(emb, emb, m.emb_mask.data() + r0 * mask_words(C), n, C,
                    Dropout{cfg.dropout, m.dropout_key, kEmbeddingStream, uint64_t(r0)});
  const S* x = emb;  // block input, the rows of this tile
  for (int l = 0; l < L; ++l) {
    auto& blk = m.blocks[l];
    const BlockOffsets o = block_offsets(m, l);
    const S* a_in = x;  // attention input: x, or LN(x) for pre-norm (every position)
    if (pre) {
      S* ln1 = blk.ln1.data() + r0 * C;
      layernorm_forward(ln1, blk.ln1_mean.data() + r0, blk.ln1_rstd.data() + r0, x, P + o.ln1_g,
                        P + o.ln1_b, n, C);
      a_in = ln1;
    }
    S* qkv = blk.qkv.data() + r0 * C3;
    if (!last_only(m, l)) {
      linear_forward(qkv, a_in, P + o.qkv_w, P + o.qkv_b, (const S*)nullptr, n, C, 3 * C);
      if (rope) {
        rope_forward(qkv, C3, n, T, 0, C, H, m.rope_cs.data(), cfg.rope_style);
        rope_forward(qkv + C, C3, n, T, 0, C, H, m.rope_cs.data(), cfg.rope_style);
      }
      attention_forward(blk.atty.data() + r0 * C, blk.att.data() + long(b0) * H * T * T,
                        m.work[size_t(omp_get_thread_num())].g_att.data(), qkv, nseq, T, C, H);
      x = block_forward_tail(m, blk, l, o, r0, n, x, drop);
    } else {
      // Keys and values of every position (columns C..3C of qkv) ...
      for (int r = 0; r < n; ++r) std::memcpy(qkv + r * C3 + C, P + o.qkv_b + C, sizeof(S) * 2 * C);
      gemm(qkv + C, C3, a_in, C, false, P + o.qkv_w + C, C3, false, n, 2 * C, C, true);
      // ... and the query of the last one only, from every T-th row of the input.
      S* ql = blk.q_last.data() + long(b0) * C;
      for (int s = 0; s < nseq; ++s) std::memcpy(ql + s * C, P + o.qkv_b, sizeof(S) * C);
      gemm(ql, C, a_in + long(T - 1) * C, long(T) * C, false, P + o.qkv_w, C3, false, nseq, C, C,
           true);
      if (rope) {
        rope_forward(qkv + C, C3, n, T, 0, C, H, m.rope_cs.data(), cfg.rope_style);
        rope_forward(ql, C, nseq, 1, T - 1, C, H, m.rope_cs.data(), cfg.rope_style);
      }
      attention_last_forward(blk.atty.data() + long(b0) * C, blk.att.data() + long(b0) * H * T, ql,
                             qkv, nseq, T, C, H);
      S* xl = blk.x_last.data() + long(b0) * C;  // the residual input of those rows
      for (int s = 0; s < nseq; ++s)
        std::memcpy(xl + s * C, x + (long(s) * T + T - 1) * C, sizeof(S) * C);
      x = block_forward_tail(m, blk, l, o, b0, nseq, xl, drop);
    }
  }
  // Final LayerNorm and head on the predicted rows: every position, or one per window (paper).
  const long R0 = paper ? b0 : r0;
  const int rows = paper ? nseq : n;
  S* lnf = m.lnf.data() + R0 * C;
  layernorm_forward(lnf, m.lnf_mean.data() + R0, m.lnf_rstd.data() + R0, x,
                    P + m.tensors[nt - 4].offset, P + m.tensors[nt - 3].offset, rows, C);
  S* logits = m.logits.data() + R0 * V;
  linear_forward(logits, lnf, P + m.tensors[nt - 2].offset, P + m.tensors[nt - 1].offset,
                 (const S*)nullptr, rows, C, V);
  if (with_targets)
    crossentropy_forward(logits, m.losses.data() + R0, logits, m.targets.data() + R0, rows, V);
}

template <typename S>
void attention_model_forward(Model<S>& m, int B, bool drop, bool with_targets, Rng* rng) {
  const ModelConfig& cfg = m.cfg;
  const long T = cfg.context, C = cfg.d_model;
  (void)C;
  if (drop) m.dropout_key = rng->next();  // one key a step; each tile draws its own rows' masks
  ensure_workspace(m);
  const int spt = sequences_per_tile(int(T)), tiles = (B + spt - 1) / spt;
  // A tile's result does not depend on which thread computes it: dynamic scheduling is safe here.
#pragma omp parallel for schedule(dynamic, 1)
  for (int i = 0; i < tiles; ++i)
    forward_tile(m, i * spt, std::min(spt, B - i * spt), drop, with_targets);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Forward

template <typename S>
S model_forward(Model<S>& m, const int32_t* inputs, const int32_t* targets, int B, bool training,
                Rng* rng) {
  if (B < 1 || B > m.max_batch)
    throw std::invalid_argument("model_forward: batch of " + std::to_string(B) +
                                " outside [1, max_batch]");
  const ModelConfig& cfg = m.cfg;
  const int T = cfg.context, C = cfg.d_model, V = cfg.vocab;
  const int R = B * targets_per_window(cfg, m.protocol);
  const bool drop = training && cfg.dropout > 0;
  m.batch = B;
  m.last_training = drop;
  std::copy(inputs, inputs + (long)B * T, m.inputs.begin());
  if (targets) std::copy(targets, targets + R, m.targets.begin());
  Cursor<S> P{m.params.data(), &m.tensors};

  switch (cfg.arch) {
    case Arch::linear: {
      if (cfg.one_hot) {
        const S* W = P.next();
        const S* bias = P.next();
#pragma omp parallel for schedule(static)
        for (int b = 0; b < B; ++b) {
          S* z = m.logits.data() + (long)b * V;
          for (int v = 0; v < V; ++v) z[v] = bias[v];
          for (int t = 0; t < T; ++t) {
            const S* w = W + ((long)t * V + inputs[(long)b * T + t]) * V;
            for (int v = 0; v < V; ++v) z[v] += w[v];
          }
        }
      } else {
        const S* wte = P.next();
        parallel_range(B, [&](long lo, long hi) {
          embedding_forward(m.emb.data() + lo * T * C, inputs + lo * T, wte, (const S*)nullptr,
                            int(hi - lo), T, C);
        });
        const S* W = P.next();
        const S* bias = P.next();
        linear_forward_par(m.logits.data(), m.emb.data(), W, bias, B, T * C, V);
      }
      break;
    }
    case Arch::mlp: {
      const uint64_t key = drop ? rng->next() : 0;
      const S* wte = P.next();
      parallel_range(B, [&](long lo, long hi) {
        embedding_forward(m.emb.data() + lo * T * C, inputs + lo * T, wte, (const S*)nullptr,
                          int(hi - lo), T, C);
      });
      const S* x = m.emb.data();
      int in = T * C;
      for (size_t i = 0; i < cfg.hidden.size(); ++i) {
        const int h = cfg.hidden[i];
        const S* W = P.next();
        const S* bias = P.next();
        S* y = m.hid[i].data();
        linear_forward_par(y, x, W, bias, B, in, h);
        activation_forward(y, y, (long)B * h, Activation::relu);
        if (drop) {
          const Dropout d{cfg.dropout, key, hidden_stream(i), 0};
          uint32_t* bits = m.hid_mask[i].data();
          parallel_range(B, [&](long lo, long hi) {
            Dropout dl = d;
            dl.row0 = uint64_t(lo);
            dropout_forward(y + lo * h, y + lo * h, bits + lo * mask_words(h), int(hi - lo), h, dl);
          });
        }
        x = y;
        in = h;
      }
      const S* W = P.next();
      const S* bias = P.next();
      linear_forward_par(m.logits.data(), x, W, bias, B, in, V);
      break;
    }
    case Arch::attention:
    case Arch::transformer:
      attention_model_forward(m, B, drop, targets != nullptr, rng);
      break;
  }
  if (!targets) return S(0);
  if (!cfg.is_attention_family())  // (the attention models' tiles did this already)
    crossentropy_forward(m.logits.data(), m.losses.data(), m.logits.data(), m.targets.data(), R, V);
  S sum = 0;  // serial sum in a fixed order: deterministic
  for (int r = 0; r < R; ++r) sum += m.losses[r];
  return sum / S(R);
}

// ---------------------------------------------------------------------------------------------
// Attention models, backward: one tile through every layer in reverse, parameter gradients
// accumulated into G (this thread's gradient buffer).

namespace {

// Inverse of block_forward_tail. On entry g holds d(block output) of the `rows` rows at q0; on
// exit g holds d res1 and w.g_b d(attention output) of those rows.
template <typename S>
void block_backward_tail(Model<S>& m, const typename Model<S>::Block& blk, const BlockOffsets& o,
                         long q0, int rows, S* g, S* G, typename Model<S>::Workspace& w,
                         bool drop) {
  const ModelConfig& cfg = m.cfg;
  const int C = cfg.d_model, F = cfg.ff;
  const bool pre = cfg.norm == Norm::pre, gelu = cfg.activation != Activation::relu;
  const S keep_scale = S(1.0 / (1.0 - cfg.dropout));
  const long wpr = mask_words(C);
  const S* P = m.params.data();
  const long c0 = q0 * C, f0 = q0 * F;
  S *ga = w.g_a.data(), *gb = w.g_b.data(), *gf = w.g_f.data();
  const S* act_out = blk.fcact.data() + f0;
  const S* act_in = gelu ? blk.fch.data() + f0 : act_out;
  if (!pre) {
    // ln2 = LN(res2), res2 = ln1 + drop(fc2(act(fc(ln1)))), ln1 = LN(res1)
    layernorm_backward(ga, G + o.ln2_g, G + o.ln2_b, g, blk.res2.data() + c0, P + o.ln2_g,
                       blk.ln2_mean.data() + q0, blk.ln2_rstd.data() + q0, rows, C, Grad::set);
    const S* d_fc2 = ga;  // d res2
    if (drop) {
      dropout_apply(gb, ga, blk.fcproj_mask.data() + q0 * wpr, rows, C, keep_scale);
      d_fc2 = gb;
    }
    linear_backward(gf, G + o.fc2_w, G + o.fc2_b, d_fc2, act_out, P + o.fc2_w, rows, F, C,
                    Grad::set);
    activation_backward(gf, gf, act_in, long(rows) * F, cfg.activation, Grad::set);
    // d ln1 = d res2 (the residual) + the feed-forward path
    linear_backward(ga, G + o.fc_w, G + o.fc_b, gf, blk.ln1.data() + c0, P + o.fc_w, rows, C, F,
                    Grad::add);
    layernorm_backward(g, G + o.ln1_g, G + o.ln1_b, ga, blk.res1.data() + c0, P + o.ln1_g,
                       blk.ln1_mean.data() + q0, blk.ln1_rstd.data() + q0, rows, C, Grad::set);
  } else {
    // res2 = res1 + drop(fc2(act(fc(ln2)))), ln2 = LN(res1)
    const S* d_fc2 = g;
    if (drop) {
      dropout_apply(ga, g, blk.fcproj_mask.data() + q0 * wpr, rows, C, keep_scale);
      d_fc2 = ga;
    }
    linear_backward(gf, G + o.fc2_w, G + o.fc2_b, d_fc2, act_out, P + o.fc2_w, rows, F, C,
                    Grad::set);
    activation_backward(gf, gf, act_in, long(rows) * F, cfg.activation, Grad::set);
    linear_backward(gb, G + o.fc_w, G + o.fc_b, gf, blk.ln2.data() + c0, P + o.fc_w, rows, C, F,
                    Grad::set);
    // d res1 = d res2 (the residual) + the LayerNorm path
    layernorm_backward(g, G + o.ln2_g, G + o.ln2_b, gb, blk.res1.data() + c0, P + o.ln2_g,
                       blk.ln2_mean.data() + q0, blk.ln2_rstd.data() + q0, rows, C, Grad::add);
  }
  // res1 = x + drop(proj(atty))
  const S* d_proj = g;
  if (drop) {
    dropout_apply(ga, g, blk.attproj_mask.data() + q0 * wpr, rows, C, keep_scale);
    d_proj = ga;
  }
  linear_backward(gb, G + o.proj_w, G + o.proj_b, d_proj, blk.atty.data() + c0, P + o.proj_w, rows,
                  C, C, Grad::set);
}

template <typename S>
void backward_tile(Model<S>& m, int b0, int nseq, S* G, typename Model<S>::Workspace& w) {
  const ModelConfig& cfg = m.cfg;
  const int T = cfg.context, C = cfg.d_model, H = cfg.heads, V = cfg.vocab, L = cfg.blocks();
  const bool pre = cfg.norm == Norm::pre, rope = cfg.positions == Positions::rope;
  const bool paper = m.protocol == Protocol::paper, drop = m.last_training;
  const long r0 = long(b0) * T, C3 = 3L * C;
  const int n = nseq * T;
  const S* P = m.params.data();
  const size_t nt = m.tensors.size();
  const long lnf_g = m.tensors[nt - 4].offset, lnf_b = m.tensors[nt - 3].offset;
  const long head_w = m.tensors[nt - 2].offset, head_b = m.tensors[nt - 1].offset;
  const int R = m.batch * targets_per_window(cfg, m.protocol);
  S* gs = w.g_stream.data();

  // loss, head and final LayerNorm, on the predicted rows
  const long R0 = paper ? b0 : r0;
  const int rows = paper ? nseq : n;
  S* dlogits = m.logits.data() + R0 * V;  // the probabilities, turned into their gradient in place
  crossentropy_backward(dlogits, dlogits, m.targets.data() + R0, rows, V, S(1) / S(R));
  S* g_lnf = w.g_a.data();
  linear_backward(g_lnf, G + head_w, G + head_b, dlogits, m.lnf.data() + R0 * C, P + head_w, rows,
                  C, V, Grad::set);
  const auto& top = m.blocks[L - 1];
  const S* top_out = (pre ? top.res2.data() : top.ln2.data()) + R0 * C;
  S* g = paper ? w.g_last.data() : gs;  // d(output of the last block)
  layernorm_backward(g, G + lnf_g, G + lnf_b, g_lnf, top_out, P + lnf_g, m.lnf_mean.data() + R0,
                     m.lnf_rstd.data() + R0, rows, C, Grad::set);

  // blocks, last to first; gs holds d(block output) on entry, d(block input) on exit
  for (int l = L - 1; l >= 0; --l) {
    const auto& blk = m.blocks[l];
    const BlockOffsets o = block_offsets(m, l);
    const S* x =
        (l == 0 ? m.emb.data() : (pre ? m.blocks[l - 1].res2.data() : m.blocks[l - 1].ln2.data())) +
        r0 * C;
    const S* a_in = pre ? blk.ln1.data() + r0 * C : x;
    S* gq = w.g_qkv.data();
    if (!last_only(m, l)) {
      block_backward_tail(m, blk, o, r0, n, gs, G, w, drop);  // gs = d res1, g_b = d atty
      attention_backward(gq, w.g_att.data(), w.g_b.data(), blk.att.data() + long(b0) * H * T * T,
                         blk.qkv.data() + r0 * C3, nseq, T, C, H);
      if (rope) {
        rope_backward(gq, C3, n, T, 0, C, H, m.rope_cs.data(), cfg.rope_style);
        rope_backward(gq + C, C3, n, T, 0, C, H, m.rope_cs.data(), cfg.rope_style);
      }
      if (!pre) {  // d x = d res1 (the residual) + the qkv path
        linear_backward(gs, G + o.qkv_w, G + o.qkv_b, gq, x, P + o.qkv_w, n, C, 3 * C, Grad::add);
      } else {  // d x = d res1 (the residual) + LN1's backward of the qkv path
        S* ga = w.g_a.data();
        linear_backward(ga, G + o.qkv_w, G + o.qkv_b, gq, a_in, P + o.qkv_w, n, C, 3 * C,
                        Grad::set);
        layernorm_backward(gs, G + o.ln1_g, G + o.ln1_b, ga, x, P + o.ln1_g,
                           blk.ln1_mean.data() + r0, blk.ln1_rstd.data() + r0, n, C, Grad::add);
      }
    } else {
      S* gl = w.g_last.data();
      block_backward_tail(m, blk, o, b0, nseq, gl, G, w, drop);  // gl = d res1 (last rows)
      S* dq = w.g_q.data();
      attention_last_backward(dq, gq, w.g_b.data(), blk.att.data() + long(b0) * H * T,
                              blk.q_last.data() + long(b0) * C, blk.qkv.data() + r0 * C3, nseq, T,
                              C, H);
      if (rope) {
        rope_backward(gq + C, C3, n, T, 0, C, H, m.rope_cs.data(), cfg.rope_style);
        rope_backward(dq, C, nseq, 1, T - 1, C, H, m.rope_cs.data(), cfg.rope_style);
      }
      // d a_in: keys and values of every row, plus the query at the last rows
      S* da = pre ? w.g_a.data() : gs;
      gemm(da, C, gq + C, C3, false, P + o.qkv_w + C, C3, true, n, C, 2 * C, false);
      gemm(da + long(T - 1) * C, long(T) * C, dq, C, false, P + o.qkv_w, C3, true, nseq, C, C,
           true);
      gemm(G + o.qkv_w + C, C3, a_in, C, true, gq + C, C3, false, C, 2 * C, n, true);
      gemm(G + o.qkv_w, C3, a_in + long(T - 1) * C, long(T) * C, true, dq, C, false, C, C, nseq,
           true);
      colsum_add(G + o.qkv_b + C, gq + C, C3, n, 2 * C);
      colsum_add(G + o.qkv_b, dq, C, nseq, C);
      if (pre)
        layernorm_backward(gs, G + o.ln1_g, G + o.ln1_b, da, x, P + o.ln1_g,
                           blk.ln1_mean.data() + r0, blk.ln1_rstd.data() + r0, n, C, Grad::set);
      // the residual: the last rows of x fed res1 directly
      for (int s = 0; s < nseq; ++s) {
        S* d = gs + (long(s) * T + T - 1) * C;
        for (int c = 0; c < C; ++c) d[c] += gl[long(s) * C + c];
      }
    }
  }
  if (drop)
    dropout_apply(gs, gs, m.emb_mask.data() + r0 * mask_words(C), n, C,
                  S(1.0 / (1.0 - cfg.dropout)));
  embedding_backward(G + m.tensors[0].offset,
                     cfg.positions == Positions::learned ? G + m.tensors[1].offset : nullptr, gs,
                     m.inputs.data() + r0, nseq, T, C, 0, C);
}

template <typename S>
void attention_model_backward(Model<S>& m) {
  ensure_workspace(m);
  const int T = m.cfg.context, B = m.batch;
  const int spt = sequences_per_tile(T), tiles = (B + spt - 1) / spt;
  const long P = long(m.params.size());
#pragma omp parallel
  {
    const int me = omp_get_thread_num(), threads = omp_get_num_threads();
    auto& w = m.work[size_t(me)];
    S* G = m.grads.data();
    if (me > 0) {
      std::fill(w.grads.begin(), w.grads.end(), S(0));
      G = w.grads.data();
    }
    // Static: which thread takes which tile, and so the order of the gradient sums, is fixed.
#pragma omp for schedule(static)
    for (int i = 0; i < tiles; ++i) backward_tile(m, i * spt, std::min(spt, B - i * spt), G, w);
    // The private gradients, added in thread order.
    if (threads > 1) {
      constexpr long kChunk = 4096;
#pragma omp for schedule(static)
      for (long c0 = 0; c0 < P; c0 += kChunk) {
        const long c1 = std::min(P, c0 + kChunk);
        for (int t = 1; t < threads; ++t) {
          const S* src = m.work[size_t(t)].grads.data();
          for (long i = c0; i < c1; ++i) m.grads[i] += src[i];
        }
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Backward

template <typename S>
void model_backward(Model<S>& m) {
  const ModelConfig& cfg = m.cfg;
  const int B = m.batch, T = cfg.context, C = cfg.d_model, V = cfg.vocab;
  if (cfg.is_attention_family()) {
    attention_model_backward(m);
    return;
  }
  const bool drop = m.last_training;
  S* dlogits = m.logits.data();  // the probabilities, turned into their gradient in place
  crossentropy_backward(dlogits, dlogits, m.targets.data(), B, V, S(1) / S(B));

  const size_t nt = m.tensors.size();
  auto par = [&](size_t i) { return m.params.data() + m.tensors[i].offset; };
  auto grd = [&](size_t i) { return m.grads.data() + m.tensors[i].offset; };
  const size_t head_w = nt - 2, head_b = nt - 1;
  // Token rows may repeat across the batch: the embedding gradient is scattered by columns.
  auto embedding_grad = [&](const S* g) {
    parallel_range(C, [&](long lo, long hi) {
      embedding_backward(grd(0), (S*)nullptr, g, m.inputs.data(), B, T, C, int(lo), int(hi));
    });
  };

  if (cfg.arch == Arch::linear) {
    if (cfg.one_hot) {
      S* dW = grd(0);
      S* db = grd(1);
      for (int b = 0; b < B; ++b) {  // serial: rows of dW may repeat across the batch
        const S* g = dlogits + (long)b * V;
        for (int v = 0; v < V; ++v) db[v] += g[v];
        for (int t = 0; t < T; ++t) {
          S* w = dW + ((long)t * V + m.inputs[(long)b * T + t]) * V;
          for (int v = 0; v < V; ++v) w[v] += g[v];
        }
      }
    } else {
      linear_backward_par(m.g_a.data(), grd(1), grd(2), dlogits, m.emb.data(), par(1), B, T * C, V,
                          Grad::set);
      embedding_grad(m.g_a.data());
    }
    return;
  }
  // MLP
  const size_t nh = cfg.hidden.size();
  linear_backward_par(m.g_hid[nh - 1].data(), grd(head_w), grd(head_b), dlogits,
                      m.hid[nh - 1].data(), par(head_w), B, cfg.hidden[nh - 1], V, Grad::set);
  for (size_t i = nh; i-- > 0;) {
    const int h = cfg.hidden[i];
    const long n = (long)B * h;
    S* g = m.g_hid[i].data();
    if (drop) dropout_apply(g, g, m.hid_mask[i].data(), B, h, S(1.0 / (1.0 - cfg.dropout)));
    // d(pre-activation), in place; hid (after ReLU and dropout) has the sign that matters
    activation_backward(g, g, m.hid[i].data(), n, Activation::relu, Grad::set);
    const size_t w = 1 + 2 * i;
    const int in = i == 0 ? T * C : cfg.hidden[i - 1];
    const S* x = i == 0 ? m.emb.data() : m.hid[i - 1].data();
    S* dx = i == 0 ? m.g_a.data() : m.g_hid[i - 1].data();
    linear_backward_par(dx, grd(w), grd(w + 1), g, x, par(w), B, in, h, Grad::set);
  }
  embedding_grad(m.g_a.data());
}

template Model<float> model_create<float>(const ModelConfig&, Protocol, int);
template Model<double> model_create<double>(const ModelConfig&, Protocol, int);
template void model_init<float>(Model<float>&, Rng&);
template void model_init<double>(Model<double>&, Rng&);
template float model_forward<float>(Model<float>&, const int32_t*, const int32_t*, int, bool, Rng*);
template double model_forward<double>(Model<double>&, const int32_t*, const int32_t*, int, bool,
                                      Rng*);
template void model_zero_grad<float>(Model<float>&);
template void model_zero_grad<double>(Model<double>&);
template void model_backward<float>(Model<float>&);
template void model_backward<double>(Model<double>&);

}  // namespace tinyfront
