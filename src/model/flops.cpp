#include "tinyfront/model/flops.hpp"

#include <algorithm>

#include "tinyfront/model/model.hpp"

namespace tinyfront {

// The exact count follows src/model/model*.cpp and layers_*.cpp layer by layer: which products are
// computed and on how many rows. docs/flops.md has the derivation; in short:
//  - a product of [n,i] by [i,o] is 2nio FLOPs (a multiply-add is 2); its backward is 2nio for
//    the weight gradient and 2nio more for the input gradient when one is needed;
//  - per element: bias add 1 / column sum 1; residual add 1 / gradient sum 1; LayerNorm 8 / 16;
//    softmax 6 / 5 (max, scale, exp, sum, normalise / dot, combine); cross-entropy 5 / 1;
//    ReLU 1 / 1; GELU 5 / 11; dropout 1 / 1; rotary embedding 3 / 3 on q and k; position add
//    1 and embedding scatter 1 per table; exp, erf and the like count as 1;
//  - causal attention multiplies, for each block of 4 query rows [t0, t1), the keys [0, t1)
//    only: the upper triangle outside the diagonal blocks is neither computed nor counted (this
//    is the SIMD path of layers_attention.cpp, taken when the head size is a multiple of the SIMD
//    width, as in every configuration of the study; the rounding of score rows up to whole SIMD
//    packets is not counted);
//  - under the paper protocol the last block computes keys and values for every position and
//    everything else (query, attention, projection, LayerNorms, feed-forward) for the last one;
//  - the optimizer step is per step, not per window, and is not included.
namespace {

constexpr int kRowBlock = 4;  // query rows per block, as in layers_attention.cpp

struct Count {
  double fwd = 0, bwd = 0;
  void linear(double n, double i, double o, bool need_dinput = true) {
    fwd += 2 * n * i * o + n * o;
    bwd += (need_dinput ? 4 : 2) * n * i * o + n * o;
  }
  void elementwise(double n, double f, double b) { fwd += f * n, bwd += b * n; }
  void layernorm(double n) { elementwise(n, 8, 16); }
  void residual(double n) { elementwise(n, 1, 1); }
  void activation(double n, Activation a) {
    if (a == Activation::relu)
      elementwise(n, 1, 1);
    else
      elementwise(n, 5, 11);
  }
  void softmax(double n) { elementwise(n, 6, 5); }
};

// Sum over query blocks of (rows in block) x (keys it sees): the score-matrix entries computed
// for one sequence and head.
double causal_score_entries(int T) {
  double s = 0;
  for (int t0 = 0; t0 < T; t0 += kRowBlock) {
    const int t1 = std::min(T, t0 + kRowBlock);
    s += double(t1 - t0) * t1;
  }
  return s;
}

Count count(const ModelConfig& cfg, Protocol protocol) {
  Count k;
  const double T = cfg.context, C = cfg.d_model, V = cfg.vocab;
  const double R = targets_per_window(cfg, protocol);
  const bool drop = cfg.dropout > 0;
  switch (cfg.arch) {
    case Arch::linear:
      if (cfg.one_hot) {  // T rows of W gathered and added: T*V adds forward, T*V backward
        k.fwd += T * V + V, k.bwd += T * V + V;
      } else {
        k.bwd += T * C;  // embedding scatter
        k.linear(1, T * C, V);
      }
      break;
    case Arch::mlp: {
      k.bwd += T * C;
      double in = T * C;
      for (int h : cfg.hidden) {
        k.linear(1, in, h);
        k.activation(h, Activation::relu);
        if (drop) k.elementwise(h, 1, 1);
        in = h;
      }
      k.linear(1, in, V);
      break;
    }
    case Arch::attention:
    case Arch::transformer: {
      const double H = cfg.heads, hd = C / H, F = cfg.ff;
      const bool pre = cfg.norm == Norm::pre, rope = cfg.positions == Positions::rope;
      if (cfg.positions == Positions::learned) k.fwd += T * C, k.bwd += T * C;
      k.bwd += T * C;  // token embedding scatter
      if (drop) k.elementwise(T * C, 1, 1);
      for (int l = 0; l < cfg.blocks(); ++l) {
        const bool last_only = protocol == Protocol::paper && l == cfg.blocks() - 1;
        const double rows = last_only ? 1 : T;  // rows after attention
        if (pre) k.layernorm(T * C);            // ln1 on every position (it feeds k and v)
        if (!last_only) {
          k.linear(T, C, 3 * C);
          if (rope) k.elementwise(T * 2 * C, 3, 3);
          const double entries = causal_score_entries(cfg.context);
          k.fwd += H * entries * hd * 2 * 2;  // scores and A V
          k.bwd += H * entries * hd * 2 * 4;  // dA, dV, dQ, dK
          k.softmax(H * T * (T + 1) / 2);
        } else {
          k.linear(T, C, 2 * C);  // keys and values of every position
          k.linear(1, C, C);      // the last query
          if (rope) k.elementwise(T * C + C, 3, 3);
          k.fwd += H * T * hd * 2 * 2;
          k.bwd += H * T * hd * 2 * 4;
          k.softmax(H * T);
        }
        k.linear(rows, C, C);  // output projection
        if (drop) k.elementwise(rows * C, 1, 1);
        k.residual(rows * C);
        k.layernorm(rows * C);  // ln1 (post) or ln2 (pre) before the feed-forward
        k.linear(rows, C, F);
        k.activation(rows * F, cfg.activation);
        k.linear(rows, F, C);
        if (drop) k.elementwise(rows * C, 1, 1);
        k.residual(rows * C);
        if (!pre) k.layernorm(rows * C);  // ln2
      }
      k.layernorm(R * C);  // final LayerNorm on predicted rows
      k.linear(R, C, V);
      break;
    }
  }
  k.elementwise(R * V, 5, 1);  // cross-entropy: softmax and its gradient
  return k;
}

}  // namespace

double exact_flops_per_window(const ModelConfig& cfg, Protocol protocol) {
  Count k = count(cfg, protocol);
  return k.fwd + k.bwd;
}

double exact_forward_flops_per_window(const ModelConfig& cfg, Protocol protocol) {
  return count(cfg, protocol).fwd;
}

TrainingFlops training_flops(const ModelConfig& cfg, Protocol protocol, int64_t params,
                             int64_t params_non_embedding, int64_t windows) {
  const int64_t tokens = windows * int64_t(cfg.context);
  const int64_t targets = windows * targets_per_window(cfg, protocol);
  TrainingFlops f;
  f.study = 2.0 * double(params) * double(tokens);
  f.kaplan = 6.0 * double(params_non_embedding) * double(targets);
  f.exact = exact_flops_per_window(cfg, protocol) * double(windows);
  return f;
}

}  // namespace tinyfront
