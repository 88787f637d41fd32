// What a model is: the architecture and its sizes, as plain data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tinyfront/util/enum_names.hpp"

namespace tinyfront {

// The study's ladder. "attention" is a transformer with exactly one block; it is kept as its own
// name because the study reports it as its own rung.
enum class Arch { linear, mlp, attention, transformer };
constexpr auto enum_names(Arch) {
  return std::to_array<EnumName<Arch>>({{Arch::linear, "linear"},
                                        {Arch::mlp, "mlp"},
                                        {Arch::attention, "attention"},
                                        {Arch::transformer, "transformer"}});
}
enum class Positions { learned, rope, none };
constexpr auto enum_names(Positions) {
  return std::to_array<EnumName<Positions>>(
      {{Positions::learned, "learned"}, {Positions::rope, "rope"}, {Positions::none, "none"}});
}
enum class RopeStyle { halves, interleaved };  // study: rotate the two halves of each head vector
constexpr auto enum_names(RopeStyle) {
  return std::to_array<EnumName<RopeStyle>>(
      {{RopeStyle::halves, "halves"}, {RopeStyle::interleaved, "interleaved"}});
}
enum class Norm { post, pre };
constexpr auto enum_names(Norm) {
  return std::to_array<EnumName<Norm>>({{Norm::post, "post"}, {Norm::pre, "pre"}});
}
// gelu: x * Phi(x), the exact (erf) form; gelu_tanh: the tanh approximation (GPT-2, nanoGPT).
enum class Activation { relu, gelu, gelu_tanh };
constexpr auto enum_names(Activation) {
  return std::to_array<EnumName<Activation>>({{Activation::relu, "relu"},
                                              {Activation::gelu, "gelu"},
                                              {Activation::gelu_tanh, "gelu_tanh"}});
}
// How parameters are initialised.
//  torch: PyTorch's module defaults (embeddings N(0, 1), linear layers U(+-1/sqrt(fan_in)));
//  gpt2:  GPT-2's (weights and embeddings N(0, 0.02), biases 0, the residual output projections
//         N(0, 0.02 / sqrt(2 L)), LayerNorm 1 and 0).
enum class Init { torch, gpt2 };
constexpr auto enum_names(Init) {
  return std::to_array<EnumName<Init>>({{Init::torch, "torch"}, {Init::gpt2, "gpt2"}});
}

// Which targets a window trains on.
//  paper:  only the token after the window (the study's protocol);
//  causal: every position predicts its next token (the standard LM objective).
enum class Protocol { paper, causal };
constexpr auto enum_names(Protocol) {
  return std::to_array<EnumName<Protocol>>(
      {{Protocol::paper, "paper"}, {Protocol::causal, "causal"}});
}

struct ModelConfig {
  Arch arch = Arch::transformer;
  int vocab = 0;         // set from the corpus
  int context = 128;     // T
  int d_model = 128;     // embedding width (linear: per-token embedding width unless one_hot)
  bool one_hot = false;  // linear only: one-hot codes instead of learned embeddings
  std::vector<int> hidden{256, 256};  // mlp hidden widths
  int layers = 3;                     // transformer blocks (attention: always 1)
  int heads = 4;
  int ff = 256;  // feed-forward width
  Positions positions = Positions::learned;
  double rope_base = 10000.0;
  RopeStyle rope_style = RopeStyle::halves;
  Norm norm = Norm::post;
  Activation activation = Activation::relu;
  double dropout = 0.0;
  Init init = Init::torch;

  int blocks() const { return arch == Arch::attention ? 1 : layers; }
  bool is_attention_family() const { return arch == Arch::attention || arch == Arch::transformer; }
};

}  // namespace tinyfront
