#include "tinyfront/model/model.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "model_detail.hpp"

namespace tinyfront {

using namespace layers;
using namespace model_detail;

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

ParamOffsets param_offsets(const ModelConfig& cfg, const std::vector<ParamTensor>& layout) {
  auto at = [&](const std::string& name) {
    for (const ParamTensor& t : layout)
      if (t.name == name) return t.offset;
    throw std::logic_error("param_offsets: the layout has no tensor " + name);
  };
  auto linear = [&](const std::string& name) {
    return LinearParams{at(name + ".weight"), at(name + ".bias")};
  };
  auto norm = [&](const std::string& name) {
    return NormParams{at(name + ".weight"), at(name + ".bias")};
  };
  ParamOffsets o;
  if (!(cfg.arch == Arch::linear && cfg.one_hot)) o.wte = at("wte");
  o.head = linear("head");
  if (cfg.arch == Arch::mlp)
    for (size_t i = 0; i < cfg.hidden.size(); ++i)
      o.hidden.push_back(linear("fc" + std::to_string(i)));
  if (cfg.is_attention_family()) {
    if (cfg.positions == Positions::learned) o.wpe = at("wpe");
    for (int l = 0; l < cfg.blocks(); ++l) {
      const std::string p = "block" + std::to_string(l) + ".";
      o.blocks.push_back({norm(p + "ln1"), linear(p + "qkv"), linear(p + "proj"), norm(p + "ln2"),
                          linear(p + "fc"), linear(p + "fc2")});
    }
    o.lnf = norm("lnf");
  }
  return o;
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
  m.at = param_offsets(cfg, m.tensors);
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
// Forward

template <typename S>
S model_forward(Model<S>& m, const int32_t* inputs, const int32_t* targets, int B, bool training,
                Rng* rng) {
  if (B < 1 || B > m.max_batch)
    throw std::invalid_argument("model_forward: batch of " + std::to_string(B) +
                                " outside [1, max_batch]");
  const ModelConfig& cfg = m.cfg;
  const int T = cfg.context, V = cfg.vocab;
  const int R = B * targets_per_window(cfg, m.protocol);
  const bool drop = training && cfg.dropout > 0;
  m.batch = B;
  m.last_training = drop;
  std::copy(inputs, inputs + (long)B * T, m.inputs.begin());
  if (targets) std::copy(targets, targets + R, m.targets.begin());
  if (cfg.is_attention_family())
    transformer_forward(m, B, drop, targets != nullptr, rng);
  else
    mlp_forward(m, B, drop, rng);
  if (!targets) return S(0);
  if (!cfg.is_attention_family())  // (the attention models' tiles did this already)
    crossentropy_forward(m.logits.data(), m.losses.data(), m.logits.data(), m.targets.data(), R, V);
  S sum = 0;  // serial sum in a fixed order: deterministic
  for (int r = 0; r < R; ++r) sum += m.losses[r];
  return sum / S(R);
}

// ---------------------------------------------------------------------------------------------
// Backward

template <typename S>
void model_backward(Model<S>& m) {
  if (m.cfg.is_attention_family())
    transformer_backward(m);
  else
    mlp_backward(m);
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
