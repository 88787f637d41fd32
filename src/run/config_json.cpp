#include "tinyfront/run/config_json.hpp"

#include <cstdio>

#include "tinyfront/util/error.hpp"

namespace tinyfront {

nlohmann::ordered_json config_to_json(const RunConfig& c) {
  using J = nlohmann::ordered_json;
  // Normalise fields that do not apply, so that equal runs have equal canonical forms.
  ModelConfig m = c.model;
  const bool attn = m.is_attention_family();
  if (m.arch != Arch::mlp) m.hidden = {};
  if (m.arch == Arch::attention) m.layers = 1;
  if (!attn) {
    m.layers = 0, m.heads = 0, m.ff = 0;
    m.positions = Positions::none, m.norm = Norm::post, m.activation = Activation::relu;
  }
  if (m.arch == Arch::linear && m.one_hot) m.d_model = 0;
  if (m.arch == Arch::linear) m.dropout = 0;  // the linear model has no dropout
  if (m.arch != Arch::linear) m.one_hot = false;
  if (m.positions != Positions::rope) m.rope_base = 0, m.rope_style = RopeStyle::halves;
  TrainConfig t = c.train;
  if (t.schedule == Schedule::constant) t.min_lr_ratio = 0;
  DataConfig d = c.data;
  if (d.tokenizer == TokenizerKind::chars) d.eos = false;

  J j;
  j["data"] = J{{"name", d.name},
                {"path", d.path},
                {"tokenizer", to_string(d.tokenizer)},
                {"split", d.split},
                {"eos", d.eos},
                {"vocab_from", d.vocab_from},
                {"max_tokens", d.max_tokens}};
  j["model"] = J{{"arch", to_string(m.arch)},
                 {"context", m.context},
                 {"d_model", m.d_model},
                 {"one_hot", m.one_hot},
                 {"hidden", m.hidden},
                 {"layers", m.layers},
                 {"heads", m.heads},
                 {"ff", m.ff},
                 {"positions", to_string(m.positions)},
                 {"rope_base", m.rope_base},
                 {"rope_style", to_string(m.rope_style)},
                 {"norm", to_string(m.norm)},
                 {"activation", to_string(m.activation)},
                 {"dropout", m.dropout},
                 {"init", to_string(m.init)}};
  j["train"] = J{{"protocol", to_string(t.protocol)},
                 {"epochs", t.epochs},
                 {"windows_per_epoch", t.windows_per_epoch},
                 {"tokens", t.tokens},
                 {"batch", t.batch},
                 {"lr", t.lr},
                 {"beta1", t.beta1},
                 {"beta2", t.beta2},
                 {"eps", t.eps},
                 {"weight_decay", t.weight_decay},
                 {"schedule", to_string(t.schedule)},
                 {"warmup_steps", t.warmup_steps},
                 {"min_lr_ratio", t.min_lr_ratio},
                 {"grad_clip", t.grad_clip},
                 {"eval_windows", t.eval_windows},
                 {"eval_every", t.eval_every},
                 {"patience", t.patience},
                 {"restore_best", t.restore_best},
                 {"seed", t.seed},
                 {"threads", t.threads},
                 {"diverge_loss", t.diverge_loss},
                 {"budget", t.budget}};
  return j;
}

RunConfig config_from_json(const nlohmann::json& j) {
  RunConfig c;
  auto en = [](const nlohmann::json& v, auto& out, const char* key) {
    if (!parse_enum(v.get<std::string>(), out))
      throw Error(std::string("config_from_json: bad value for ") + key);
  };
  const auto& d = j.at("data");
  c.data.name = d.at("name").get<std::string>();
  c.data.path = d.at("path").get<std::string>();
  en(d.at("tokenizer"), c.data.tokenizer, "data.tokenizer");
  c.data.split = d.at("split").get<std::vector<double>>();
  c.data.eos = d.at("eos").get<bool>();
  c.data.vocab_from = d.at("vocab_from").get<std::string>();
  // Absent from configs written before the field existed (weights, checkpoints of schema 1).
  if (d.contains("max_tokens")) c.data.max_tokens = d.at("max_tokens").get<std::vector<int64_t>>();
  const auto& m = j.at("model");
  en(m.at("arch"), c.model.arch, "model.arch");
  c.model.context = m.at("context");
  c.model.d_model = m.at("d_model");
  c.model.one_hot = m.at("one_hot");
  c.model.hidden = m.at("hidden").get<std::vector<int>>();
  c.model.layers = m.at("layers");
  c.model.heads = m.at("heads");
  c.model.ff = m.at("ff");
  en(m.at("positions"), c.model.positions, "model.positions");
  c.model.rope_base = m.at("rope_base");
  en(m.at("rope_style"), c.model.rope_style, "model.rope_style");
  en(m.at("norm"), c.model.norm, "model.norm");
  en(m.at("activation"), c.model.activation, "model.activation");
  c.model.dropout = m.at("dropout");
  if (m.contains("init")) en(m.at("init"), c.model.init, "model.init");  // (files before 0.2)
  const auto& t = j.at("train");
  en(t.at("protocol"), c.train.protocol, "train.protocol");
  c.train.epochs = t.at("epochs");
  c.train.windows_per_epoch = t.at("windows_per_epoch");
  c.train.tokens = t.at("tokens");
  c.train.batch = t.at("batch");
  c.train.lr = t.at("lr");
  c.train.beta1 = t.at("beta1");
  c.train.beta2 = t.at("beta2");
  c.train.eps = t.at("eps");
  c.train.weight_decay = t.at("weight_decay");
  en(t.at("schedule"), c.train.schedule, "train.schedule");
  c.train.warmup_steps = t.at("warmup_steps");
  c.train.min_lr_ratio = t.at("min_lr_ratio");
  c.train.grad_clip = t.at("grad_clip");
  c.train.eval_windows = t.at("eval_windows");
  c.train.eval_every = t.at("eval_every");
  c.train.patience = t.at("patience");
  c.train.restore_best = t.at("restore_best");
  c.train.seed = t.at("seed");
  c.train.threads = t.at("threads");
  c.train.diverge_loss = t.at("diverge_loss");
  if (t.contains("budget")) c.train.budget = t.at("budget").get<std::string>();
  return c;
}

std::string run_id(const RunConfig& cfg) {
  auto j = config_to_json(cfg);
  j["train"].erase("threads");
  j["train"].erase("budget");
  // Fields added after the first results files were written enter the hash only when they differ
  // from the behaviour those files had, so that their run ids (and resumes) stay valid.
  if (j["model"]["init"] == "torch") j["model"].erase("init");
  if (j["data"]["max_tokens"] == nlohmann::ordered_json::array({0, 0, 0}))
    j["data"].erase("max_tokens");
  std::string text = j.dump();
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 0x100000001b3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return buf;
}

}  // namespace tinyfront
