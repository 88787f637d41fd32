#include "tinyfront/run/config.hpp"

namespace tinyfront {

void validate_config(const RunConfig& c, const std::string& file, std::vector<SpecIssue>& issues) {
  auto add = [&](const std::string& key, const std::string& reason) {
    issues.push_back({file, 0, 0, key, reason});
  };
  const ModelConfig& m = c.model;
  if (m.is_attention_family()) {
    if (m.d_model % m.heads != 0)
      add("model.heads", "must divide model.d_model (" + std::to_string(m.d_model) + "), got " +
                             std::to_string(m.heads));
    else if (m.positions == Positions::rope && (m.d_model / m.heads) % 2 != 0)
      add("model.positions", "rope needs an even head dimension (d_model / heads = " +
                                 std::to_string(m.d_model / m.heads) + ")");
  }
  if (m.one_hot && m.arch != Arch::linear)
    add("model.one_hot", "only the linear model has one_hot");
  if (c.train.protocol == Protocol::causal && c.train.tokens == 0 && c.train.epochs <= 0)
    add("train.tokens", "causal protocol needs a budget: tokens > 0 or epochs > 0");
}

}  // namespace tinyfront
