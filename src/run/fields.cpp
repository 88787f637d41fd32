#include "tinyfront/run/fields.hpp"

namespace tinyfront {

bool applies(Applies a, const RunConfig& c) {
  const ModelConfig& m = c.model;
  switch (a) {
    case Applies::always:
      return true;
    case Applies::linear:
      return m.arch == Arch::linear;
    case Applies::mlp:
      return m.arch == Arch::mlp;
    case Applies::attention_family:
      return m.is_attention_family();
    case Applies::transformer:
      return m.arch == Arch::transformer;
    case Applies::not_linear:
      return m.arch != Arch::linear;
    case Applies::learned_embeddings:
      return !(m.arch == Arch::linear && m.one_hot);
    case Applies::rope:
      return m.positions == Positions::rope;
    case Applies::cosine:
      return c.train.schedule == Schedule::cosine;
    case Applies::words:
      return c.data.tokenizer == TokenizerKind::words;
  }
  return true;
}

bool is_known_field(const std::string& dotted_key) {
  RunConfig scratch;
  bool known = false;
  for_each_field(scratch, [&](const FieldInfo& f, const auto&, const auto&) {
    if (f.in_spec && dotted_key == std::string(f.section) + "." + f.key) known = true;
  });
  return known;
}

RunConfig normalise(const RunConfig& cfg) {
  RunConfig n = cfg;
  for_each_field(n, [&n](const FieldInfo& f, auto& member, const auto& off) {
    if (!applies(f.applies, n)) member = off;
  });
  return n;
}

}  // namespace tinyfront
