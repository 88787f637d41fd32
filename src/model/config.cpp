#include "tinyfront/model/config.hpp"

namespace tinyfront {

namespace {
template <typename E, size_t N>
bool lookup(const std::string& s, E& out, const char* const (&names)[N], const E (&values)[N]) {
  for (size_t i = 0; i < N; ++i)
    if (s == names[i]) {
      out = values[i];
      return true;
    }
  return false;
}
}  // namespace

const char* to_string(Arch a) {
  switch (a) {
    case Arch::linear:
      return "linear";
    case Arch::mlp:
      return "mlp";
    case Arch::attention:
      return "attention";
    case Arch::transformer:
      return "transformer";
  }
  return "?";
}
const char* to_string(Positions p) {
  switch (p) {
    case Positions::learned:
      return "learned";
    case Positions::rope:
      return "rope";
    case Positions::none:
      return "none";
  }
  return "?";
}
const char* to_string(RopeStyle s) {
  return s == RopeStyle::halves ? "halves" : "interleaved";
}
const char* to_string(Norm n) {
  return n == Norm::post ? "post" : "pre";
}
const char* to_string(Activation a) {
  switch (a) {
    case Activation::relu:
      return "relu";
    case Activation::gelu:
      return "gelu";
    case Activation::gelu_tanh:
      return "gelu_tanh";
  }
  return "?";
}
const char* to_string(Init i) {
  return i == Init::torch ? "torch" : "gpt2";
}
const char* to_string(Protocol p) {
  return p == Protocol::paper ? "paper" : "causal";
}

bool parse_enum(const std::string& s, Arch& out) {
  return lookup(s, out, {"linear", "mlp", "attention", "transformer"},
                {Arch::linear, Arch::mlp, Arch::attention, Arch::transformer});
}
bool parse_enum(const std::string& s, Positions& out) {
  return lookup(s, out, {"learned", "rope", "none"},
                {Positions::learned, Positions::rope, Positions::none});
}
bool parse_enum(const std::string& s, RopeStyle& out) {
  return lookup(s, out, {"halves", "interleaved"}, {RopeStyle::halves, RopeStyle::interleaved});
}
bool parse_enum(const std::string& s, Norm& out) {
  return lookup(s, out, {"post", "pre"}, {Norm::post, Norm::pre});
}
bool parse_enum(const std::string& s, Activation& out) {
  return lookup(s, out, {"relu", "gelu", "gelu_tanh"},
                {Activation::relu, Activation::gelu, Activation::gelu_tanh});
}
bool parse_enum(const std::string& s, Init& out) {
  return lookup(s, out, {"torch", "gpt2"}, {Init::torch, Init::gpt2});
}
bool parse_enum(const std::string& s, Protocol& out) {
  return lookup(s, out, {"paper", "causal"}, {Protocol::paper, Protocol::causal});
}

}  // namespace tinyfront
