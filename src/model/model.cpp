#include "tinyfront/model/model.hpp"

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
  void add(const std::string& name, int rows, int cols, bool embedding, bool decay,
           ParamInit init, int fan_in = 0) {
    tensors.push_back({name, offset, rows, cols, embedding, decay, init, fan_in});
    offset += long(rows) * cols;
  }
  void embedding(const std::string& name, int rows, int cols) {
    add(name, rows, cols, true, false, ParamInit::normal);
  }
  void linear(const std::string& name, int in, int out) {
    add(name + ".weight", in, out, false, true, ParamInit::fan_in_uniform, in);
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
        L.linear(p + "proj", C, C);
        L.layernorm(p + "ln2", C);
        L.linear(p + "fc", C, cfg.ff);
        L.linear(p + "fc2", cfg.ff, C);
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

template <typename S>
void draw_mask(std::vector<S>& mask, long n, double p, Rng& rng) {
  const S keep = S(1.0 / (1.0 - p));
  for (long i = 0; i < n; ++i) mask[i] = rng.uniform() < p ? S(0) : keep;
}

template <typename S>
void scale_inplace(S* x, const S* mask, long n) {
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; ++i) x[i] *= mask[i];
}

template <typename S>
void add_into(S* out, const S* a, const S* b, long n) {
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; ++i) out[i] = a[i] + b[i];
}

template <typename S>
void masked_copy(S* out, const S* g, const S* mask, long n) {
#pragma omp parallel for schedule(static)
  for (long i = 0; i < n; ++i) out[i] = g[i] * mask[i];
}

template <typename S>
void zero(std::vector<S>& v, long n) {
  std::fill(v.begin(), v.begin() + n, S(0));
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
      m.hid.resize(nh), m.hid_pre.resize(nh), m.hid_mask.resize(nh), m.g_hid.resize(nh);
      for (size_t i = 0; i < nh; ++i) {
        resize(m.hid[i], B * cfg.hidden[i]);
        resize(m.hid_pre[i], B * cfg.hidden[i]);
        resize(m.g_hid[i], B * cfg.hidden[i]);
        if (drop) resize(m.hid_mask[i], B * cfg.hidden[i]);
      }
      resize(m.g_b, B * *std::max_element(cfg.hidden.begin(), cfg.hidden.end()));
      break;
    }
    case Arch::attention:
    case Arch::transformer: {
      const long N = B * T, F = cfg.ff, H = cfg.heads;
      resize(m.emb, N * C);
      if (drop) resize(m.emb_mask, N * C);
      m.blocks.resize(cfg.blocks());
      for (auto& b : m.blocks) {
        resize(b.ln1, N * C), resize(b.ln1_mean, N), resize(b.ln1_rstd, N);
        resize(b.qkv, N * 3 * C), resize(b.att, B * H * T * T), resize(b.atty, N * C);
        resize(b.attproj, N * C), resize(b.res1, N * C);
        resize(b.ln2, N * C), resize(b.ln2_mean, N), resize(b.ln2_rstd, N);
        resize(b.fch, N * F), resize(b.fcact, N * F), resize(b.fcproj, N * C), resize(b.res2, N * C);
        if (drop) resize(b.attproj_mask, N * C), resize(b.fcproj_mask, N * C);
      }
      resize(m.lnf_in, R * C), resize(m.lnf, R * C), resize(m.lnf_mean, R), resize(m.lnf_rstd, R);
      resize(m.g_stream, N * C), resize(m.g_a, N * C), resize(m.g_b, N * C);
      resize(m.g_qkv, N * 3 * C), resize(m.g_f1, N * F), resize(m.g_f2, N * F);
      resize(m.g_lnf, R * C);
      break;
    }
  }
  resize(m.logits, R * V), resize(m.probs, R * V), resize(m.losses, R), resize(m.g_logits, R * V);
  m.inputs.assign(size_t(B * T), 0);
  m.targets.assign(size_t(R), 0);
  return m;
}

template <typename S>
void model_init(Model<S>& m, Rng& rng) {
  for (auto& t : m.tensors) {
    S* p = m.params.data() + t.offset;
    switch (t.init) {
      case ParamInit::normal:
        for (long i = 0; i < t.size(); ++i) p[i] = S(rng.normal());
        break;
      case ParamInit::fan_in_uniform: {
        const double bound = 1.0 / std::sqrt(double(t.fan_in));
        for (long i = 0; i < t.size(); ++i) p[i] = S((2 * rng.uniform() - 1) * bound);
        break;
      }
      case ParamInit::one: std::fill(p, p + t.size(), S(1)); break;
      case ParamInit::zero: std::fill(p, p + t.size(), S(0)); break;
    }
  }
}

template <typename S>
void model_zero_grad(Model<S>& m) {
  std::fill(m.grads.begin(), m.grads.end(), S(0));
}

// ---------------------------------------------------------------------------------------------
// Forward

template <typename S>
S model_forward(Model<S>& m, const int32_t* inputs, const int32_t* targets, int B, bool training,
                Rng* rng) {
  if (B > m.max_batch) throw std::invalid_argument("model_forward: batch larger than max_batch");
  const ModelConfig& cfg = m.cfg;
  const int T = cfg.context, C = cfg.d_model, V = cfg.vocab;
  const int R = B * targets_per_window(cfg, m.protocol);
  const bool drop = training && cfg.dropout > 0;
  m.batch = B;
  m.last_training = drop;
  std::copy(inputs, inputs + (long)B * T, m.inputs.begin());
  Cursor<S> P{m.params.data(), &m.tensors};
  const S* head_in = nullptr;  // [R, head_in_dim] input of the final linear layer
  int head_in_dim = 0;

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
        embedding_forward(m.emb.data(), inputs, wte, (const S*)nullptr, B, T, C);
        const S* W = P.next();
        const S* bias = P.next();
        linear_forward(m.logits.data(), m.emb.data(), W, bias, B, T * C, V);
      }
      break;
    }
    case Arch::mlp: {
      const S* wte = P.next();
      embedding_forward(m.emb.data(), inputs, wte, (const S*)nullptr, B, T, C);
      const S* x = m.emb.data();
      int in = T * C;
      for (size_t i = 0; i < cfg.hidden.size(); ++i) {
        const int h = cfg.hidden[i];
        const S* W = P.next();
        const S* bias = P.next();
        linear_forward(m.hid_pre[i].data(), x, W, bias, B, in, h);
        activation_forward(m.hid[i].data(), m.hid_pre[i].data(), (long)B * h, Activation::relu);
        if (drop) {
          draw_mask(m.hid_mask[i], (long)B * h, cfg.dropout, *rng);
          scale_inplace(m.hid[i].data(), m.hid_mask[i].data(), (long)B * h);
        }
        x = m.hid[i].data();
        in = h;
      }
      head_in = x;
      head_in_dim = in;
      break;
    }
    case Arch::attention:
    case Arch::transformer: {
      const long N = (long)B * T;
      const int H = cfg.heads, F = cfg.ff;
      const S* wte = P.next();
      const S* wpe = cfg.positions == Positions::learned ? P.next() : nullptr;
      embedding_forward(m.emb.data(), inputs, wte, wpe, B, T, C);
      if (drop) {
        draw_mask(m.emb_mask, N * C, cfg.dropout, *rng);
        scale_inplace(m.emb.data(), m.emb_mask.data(), N * C);
      }
      const S* x = m.emb.data();
      for (auto& blk : m.blocks) {
        const S *ln1_g = P.next(), *ln1_b = P.next();
        const S *qkv_w = P.next(), *qkv_b = P.next();
        const S *proj_w = P.next(), *proj_b = P.next();
        const S *ln2_g = P.next(), *ln2_b = P.next();
        const S *fc_w = P.next(), *fc_b = P.next();
        const S *fc2_w = P.next(), *fc2_b = P.next();
        const bool pre = cfg.norm == Norm::pre;
        // attention sub-block
        const S* att_in = x;
        if (pre) {
          layernorm_forward(blk.ln1.data(), blk.ln1_mean.data(), blk.ln1_rstd.data(), x, ln1_g,
                            ln1_b, (int)N, C);
          att_in = blk.ln1.data();
        }
        linear_forward(blk.qkv.data(), att_in, qkv_w, qkv_b, (int)N, C, 3 * C);
        if (cfg.positions == Positions::rope)
          rope_forward(blk.qkv.data(), B, T, C, H, cfg.rope_base, cfg.rope_style);
        attention_forward(blk.atty.data(), blk.att.data(), blk.qkv.data(), B, T, C, H);
        linear_forward(blk.attproj.data(), blk.atty.data(), proj_w, proj_b, (int)N, C, C);
        if (drop) {
          draw_mask(blk.attproj_mask, N * C, cfg.dropout, *rng);
          scale_inplace(blk.attproj.data(), blk.attproj_mask.data(), N * C);
        }
        add_into(blk.res1.data(), x, blk.attproj.data(), N * C);
        // feed-forward sub-block
        const S* ff_in;
        if (pre) {
          layernorm_forward(blk.ln2.data(), blk.ln2_mean.data(), blk.ln2_rstd.data(),
                            blk.res1.data(), ln2_g, ln2_b, (int)N, C);
          ff_in = blk.ln2.data();
        } else {
          layernorm_forward(blk.ln1.data(), blk.ln1_mean.data(), blk.ln1_rstd.data(),
                            blk.res1.data(), ln1_g, ln1_b, (int)N, C);
          ff_in = blk.ln1.data();
        }
        linear_forward(blk.fch.data(), ff_in, fc_w, fc_b, (int)N, C, F);
        activation_forward(blk.fcact.data(), blk.fch.data(), N * F, cfg.activation);
        linear_forward(blk.fcproj.data(), blk.fcact.data(), fc2_w, fc2_b, (int)N, F, C);
        if (drop) {
          draw_mask(blk.fcproj_mask, N * C, cfg.dropout, *rng);
          scale_inplace(blk.fcproj.data(), blk.fcproj_mask.data(), N * C);
        }
        add_into(blk.res2.data(), ff_in == blk.ln2.data() ? blk.res1.data() : blk.ln1.data(),
                 blk.fcproj.data(), N * C);
        if (pre) {
          x = blk.res2.data();
        } else {
          layernorm_forward(blk.ln2.data(), blk.ln2_mean.data(), blk.ln2_rstd.data(),
                            blk.res2.data(), ln2_g, ln2_b, (int)N, C);
          x = blk.ln2.data();
        }
      }
      // Final LayerNorm over the rows that are predicted.
      const S* lnf_in = x;
      if (R != N) {  // paper protocol: only the last position of each window
        for (int b = 0; b < B; ++b)
          std::memcpy(m.lnf_in.data() + (long)b * C, x + ((long)b * T + T - 1) * C, sizeof(S) * C);
        lnf_in = m.lnf_in.data();
      }
      const S *lnf_g = P.next(), *lnf_b = P.next();
      layernorm_forward(m.lnf.data(), m.lnf_mean.data(), m.lnf_rstd.data(), lnf_in, lnf_g, lnf_b, R,
                        C);
      if (R == N) std::memcpy(m.lnf_in.data(), x, sizeof(S) * N * C);  // kept for backward
      head_in = m.lnf.data();
      head_in_dim = C;
      break;
    }
  }
  if (head_in) {
    const S* W = P.next();
    const S* bias = P.next();
    linear_forward(m.logits.data(), head_in, W, bias, R, head_in_dim, V);
  }
  if (!targets) return S(0);
  std::copy(targets, targets + R, m.targets.begin());
  crossentropy_forward(m.probs.data(), m.losses.data(), m.logits.data(), m.targets.data(), R, V);
  S sum = 0;  // serial sum in a fixed order: deterministic
  for (int r = 0; r < R; ++r) sum += m.losses[r];
  return sum / S(R);
}

// ---------------------------------------------------------------------------------------------
// Backward

template <typename S>
void model_backward(Model<S>& m) {
  const ModelConfig& cfg = m.cfg;
  const int B = m.batch, T = cfg.context, C = cfg.d_model, V = cfg.vocab;
  const int R = B * targets_per_window(cfg, m.protocol);
  const bool drop = m.last_training;
  crossentropy_backward(m.g_logits.data(), m.probs.data(), m.targets.data(), R, V, S(1) / S(R));

  // Parameters and gradients by layout index (the same order forward walks).
  const size_t nt = m.tensors.size();
  auto par = [&](size_t i) { return m.params.data() + m.tensors[i].offset; };
  auto grd = [&](size_t i) { return m.grads.data() + m.tensors[i].offset; };
  const size_t head_w = nt - 2, head_b = nt - 1;

  switch (cfg.arch) {
    case Arch::linear: {
      if (cfg.one_hot) {
        S* dW = grd(0);
        S* db = grd(1);
        for (int b = 0; b < B; ++b) {  // serial: rows of dW may repeat across the batch
          const S* g = m.g_logits.data() + (long)b * V;
          for (int v = 0; v < V; ++v) db[v] += g[v];
          for (int t = 0; t < T; ++t) {
            S* w = dW + ((long)t * V + m.inputs[(long)b * T + t]) * V;
            for (int v = 0; v < V; ++v) w[v] += g[v];
          }
        }
      } else {
        zero(m.g_a, (long)B * T * C);
        linear_backward(m.g_a.data(), grd(1), grd(2), m.g_logits.data(), m.emb.data(), par(1), B,
                        T * C, V);
        embedding_backward(grd(0), (S*)nullptr, m.g_a.data(), m.inputs.data(), B, T, C);
      }
      break;
    }
    case Arch::mlp: {
      const size_t nh = cfg.hidden.size();
      // head
      const S* x_last = m.hid[nh - 1].data();
      zero(m.g_hid[nh - 1], (long)B * cfg.hidden[nh - 1]);
      linear_backward(m.g_hid[nh - 1].data(), grd(head_w), grd(head_b), m.g_logits.data(), x_last,
                      par(head_w), B, cfg.hidden[nh - 1], V);
      for (size_t i = nh; i-- > 0;) {
        const int h = cfg.hidden[i];
        const long n = (long)B * h;
        if (drop) scale_inplace(m.g_hid[i].data(), m.hid_mask[i].data(), n);
        zero(m.g_b, n);  // d(pre-activation)
        activation_backward(m.g_b.data(), m.g_hid[i].data(), m.hid_pre[i].data(), n,
                            Activation::relu);
        const size_t w = 1 + 2 * i;
        const int in = i == 0 ? T * C : cfg.hidden[i - 1];
        const S* x = i == 0 ? m.emb.data() : m.hid[i - 1].data();
        S* dx;
        if (i == 0) {
          zero(m.g_a, (long)B * T * C);
          dx = m.g_a.data();
        } else {
          zero(m.g_hid[i - 1], (long)B * in);
          dx = m.g_hid[i - 1].data();
        }
        linear_backward(dx, grd(w), grd(w + 1), m.g_b.data(), x, par(w), B, in, h);
      }
      embedding_backward(grd(0), (S*)nullptr, m.g_a.data(), m.inputs.data(), B, T, C);
      break;
    }
    case Arch::attention:
    case Arch::transformer: {
      const long N = (long)B * T;
      const int H = cfg.heads, F = cfg.ff;
      const bool pre = cfg.norm == Norm::pre;
      const bool learned = cfg.positions == Positions::learned;
      const size_t first_block = learned ? 2 : 1;
      const size_t lnf_g = nt - 4, lnf_b = nt - 3;
      // head and final LayerNorm
      zero(m.g_lnf, (long)R * C);
      linear_backward(m.g_lnf.data(), grd(head_w), grd(head_b), m.g_logits.data(), m.lnf.data(),
                      par(head_w), R, C, V);
      zero(m.g_stream, N * C);
      if (R == N) {
        layernorm_backward(m.g_stream.data(), grd(lnf_g), grd(lnf_b), m.g_lnf.data(),
                           m.lnf_in.data(), par(lnf_g), m.lnf_mean.data(), m.lnf_rstd.data(), R, C);
      } else {
        zero(m.g_a, (long)R * C);
        layernorm_backward(m.g_a.data(), grd(lnf_g), grd(lnf_b), m.g_lnf.data(), m.lnf_in.data(),
                           par(lnf_g), m.lnf_mean.data(), m.lnf_rstd.data(), R, C);
        for (int b = 0; b < B; ++b)
          std::memcpy(m.g_stream.data() + ((long)b * T + T - 1) * C, m.g_a.data() + (long)b * C,
                      sizeof(S) * C);
      }
      // blocks, last to first; g_stream holds d(block output) on entry, d(block input) on exit
      for (int l = cfg.blocks() - 1; l >= 0; --l) {
        auto& blk = m.blocks[l];
        const size_t k = first_block + 12 * size_t(l);
        const size_t ln1_g = k, ln1_b = k + 1, qkv_w = k + 2, qkv_b = k + 3, proj_w = k + 4,
                     proj_b = k + 5, ln2_g = k + 6, ln2_b = k + 7, fc_w = k + 8, fc_b = k + 9,
                     fc2_w = k + 10, fc2_b = k + 11;
        const S* x_in = l == 0 ? m.emb.data()
                               : (pre ? m.blocks[l - 1].res2.data() : m.blocks[l - 1].ln2.data());
        S* gs = m.g_stream.data();
        S* ga = m.g_a.data();
        S* gb = m.g_b.data();
        if (!pre) {
          // ln2 = LN(res2), res2 = ln1 + drop(fcproj), ln1 = LN(res1), res1 = x + drop(attproj)
          zero(m.g_a, N * C);
          layernorm_backward(ga, grd(ln2_g), grd(ln2_b), gs, blk.res2.data(), par(ln2_g),
                             blk.ln2_mean.data(), blk.ln2_rstd.data(), (int)N, C);
          std::copy(ga, ga + N * C, gb);  // d ln1 via the residual
          const S* d_fcproj = ga;
          if (drop) {
            masked_copy(gs, ga, blk.fcproj_mask.data(), N * C);
            d_fcproj = gs;
          }
          zero(m.g_f2, N * F);
          linear_backward(m.g_f2.data(), grd(fc2_w), grd(fc2_b), d_fcproj, blk.fcact.data(),
                          par(fc2_w), (int)N, F, C);
          zero(m.g_f1, N * F);
          activation_backward(m.g_f1.data(), m.g_f2.data(), blk.fch.data(), N * F, cfg.activation);
          linear_backward(gb, grd(fc_w), grd(fc_b), m.g_f1.data(), blk.ln1.data(), par(fc_w),
                          (int)N, C, F);
          zero(m.g_stream, N * C);
          layernorm_backward(gs, grd(ln1_g), grd(ln1_b), gb, blk.res1.data(), par(ln1_g),
                             blk.ln1_mean.data(), blk.ln1_rstd.data(), (int)N, C);
          // gs = d res1 = d x (residual) + attention path
        } else {
          // res2 = res1 + drop(fcproj(ln2)), ln2 = LN(res1), res1 = x + drop(attproj(ln1))
          const S* d_fcproj = gs;
          if (drop) {
            masked_copy(ga, gs, blk.fcproj_mask.data(), N * C);
            d_fcproj = ga;
          }
          zero(m.g_f2, N * F);
          linear_backward(m.g_f2.data(), grd(fc2_w), grd(fc2_b), d_fcproj, blk.fcact.data(),
                          par(fc2_w), (int)N, F, C);
          zero(m.g_f1, N * F);
          activation_backward(m.g_f1.data(), m.g_f2.data(), blk.fch.data(), N * F, cfg.activation);
          zero(m.g_b, N * C);
          linear_backward(gb, grd(fc_w), grd(fc_b), m.g_f1.data(), blk.ln2.data(), par(fc_w),
                          (int)N, C, F);
          layernorm_backward(gs, grd(ln2_g), grd(ln2_b), gb, blk.res1.data(), par(ln2_g),
                             blk.ln2_mean.data(), blk.ln2_rstd.data(), (int)N, C);
        }
        // attention path: gs = d res1
        const S* d_attproj = gs;
        if (drop) {
          masked_copy(ga, gs, blk.attproj_mask.data(), N * C);
          d_attproj = ga;
        }
        zero(m.g_b, N * C);
        linear_backward(gb, grd(proj_w), grd(proj_b), d_attproj, blk.atty.data(), par(proj_w),
                        (int)N, C, C);
        zero(m.g_qkv, N * 3 * C);
        attention_backward(m.g_qkv.data(), gb, blk.att.data(), blk.qkv.data(), B, T, C, H);
        if (cfg.positions == Positions::rope)
          rope_backward(m.g_qkv.data(), B, T, C, H, cfg.rope_base, cfg.rope_style);
        if (!pre) {
          linear_backward(gs, grd(qkv_w), grd(qkv_b), m.g_qkv.data(), x_in, par(qkv_w), (int)N, C,
                          3 * C);
        } else {
          zero(m.g_a, N * C);
          linear_backward(ga, grd(qkv_w), grd(qkv_b), m.g_qkv.data(), blk.ln1.data(), par(qkv_w),
                          (int)N, C, 3 * C);
          layernorm_backward(gs, grd(ln1_g), grd(ln1_b), ga, x_in, par(ln1_g), blk.ln1_mean.data(),
                             blk.ln1_rstd.data(), (int)N, C);
        }
      }
      if (drop) scale_inplace(m.g_stream.data(), m.emb_mask.data(), N * C);
      embedding_backward(grd(0), learned ? grd(1) : (S*)nullptr, m.g_stream.data(), m.inputs.data(), B,
                         T, C);
      break;
    }
  }
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
