#include "tinyfront/model/flops.hpp"

#include "tinyfront/model/model.hpp"

namespace tinyfront {

namespace {

// Forward and backward FLOPs of one window, accumulated layer by layer. Conventions (per element
// unless said): a multiply-add is 2 FLOPs; softmax 5 forward / 4 backward; LayerNorm 8 / 10;
// ReLU 1 / 1; GELU 10 / 14 (erf counted as 5); residual add 1 / 0; bias add 1 / 1 (column sum).
struct Count {
  double fwd = 0, bwd = 0;
  // out[n, o] = in[n, i] W[i, o] + b: forward 2nio + no; backward dX and dW 4nio + no (db).
  void linear(double n, double i, double o, bool need_dinput = true) {
    fwd += 2 * n * i * o + n * o;
    bwd += (need_dinput ? 4 : 2) * n * i * o + n * o;
  }
  void layernorm(double n, double c) { fwd += 8 * n * c, bwd += 10 * n * c; }
  void activation(double n, Activation a) {
    if (a == Activation::relu) fwd += n, bwd += n;
    else fwd += 10 * n, bwd += 14 * n;
  }
  void softmax(double n) { fwd += 5 * n, bwd += 4 * n; }
};

Count count(const ModelConfig& cfg, Protocol protocol) {
  Count k;
  const double T = cfg.context, C = cfg.d_model, V = cfg.vocab;
  const double R = targets_per_window(cfg, protocol);
  switch (cfg.arch) {
    case Arch::linear:
      if (cfg.one_hot) {  // T rows of W gathered and added: T*V adds forward, T*V backward
        k.fwd += T * V + V, k.bwd += T * V + V;
      } else {
        k.linear(1, T * C, V);
      }
      break;
    case Arch::mlp: {
      double in = T * C;
      for (int h : cfg.hidden) {
        k.linear(1, in, h);
        k.activation(h, Activation::relu);
        in = h;
      }
      k.linear(1, in, V);
      break;
    }
    case Arch::attention:
    case Arch::transformer: {
      const double H = cfg.heads, hd = C / H, F = cfg.ff;
      for (int l = 0; l < cfg.blocks(); ++l) {
        k.layernorm(T, C);  // ln1
        k.linear(T, C, 3 * C);
        if (cfg.positions == Positions::rope) k.fwd += 6 * T * 2 * C, k.bwd += 6 * T * 2 * C;
        // scores Q K^T over the full T x T (the GEMM computes the masked half too), then A V
        k.fwd += 2 * H * T * T * hd * 2;
        k.bwd += 4 * H * T * T * hd * 2;  // dA, dV, dQ, dK
        k.softmax(H * T * (T + 1) / 2);
        k.linear(T, C, C);
        k.fwd += T * C;  // residual
        k.layernorm(T, C);  // ln2
        k.linear(T, C, F);
        k.activation(T * F, cfg.activation);
        k.linear(T, F, C);
        k.fwd += T * C;
      }
      k.layernorm(R, C);  // final LayerNorm on predicted rows
      k.linear(R, C, V);
      break;
    }
  }
  k.softmax(R * V);  // cross-entropy
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

}  // namespace tinyfront
