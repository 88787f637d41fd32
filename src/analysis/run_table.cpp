#include "tinyfront/analysis/run_table.hpp"

#include <charconv>
#include <cmath>
#include <set>
#include <string_view>
#include <unordered_map>

#include "tinyfront/run/config_json.hpp"

namespace tinyfront {

const char* to_string(CostAxis c) {
  switch (c) {
    case CostAxis::flops_study:
      return "flops_study";
    case CostAxis::flops_kaplan:
      return "flops_kaplan";
    case CostAxis::flops_exact:
      return "flops_exact";
    case CostAxis::params:
      return "params";
  }
  return "?";
}

bool parse_enum(const std::string& s, CostAxis& out) {
  for (CostAxis c : kCostAxes)
    if (s == to_string(c)) {
      out = c;
      return true;
    }
  return false;
}

double run_cost(const TrainResult& r, CostAxis c) {
  switch (c) {
    case CostAxis::flops_study:
      return r.flops_study;
    case CostAxis::flops_kaplan:
      return r.flops_kaplan;
    case CostAxis::flops_exact:
      return r.flops_exact;
    case CostAxis::params:
      return double(r.params);
  }
  return 0;
}

bool is_usable(const RunRecord& r) {
  return r.result.status == RunStatus::done && std::isfinite(r.result.test_nll);
}

void IgnoredRuns::count(const RunRecord& r) {
  switch (r.result.status) {
    case RunStatus::done:
      if (!std::isfinite(r.result.test_nll)) ++nonfinite_nll;
      break;
    case RunStatus::failed:
      ++failed;
      break;
    case RunStatus::diverged:
      ++diverged;
      break;
    default:
      ++other;
      break;
  }
}

std::string budget_rule(const std::string& label) {
  if (label.rfind("scaled_epochs", 0) == 0) return "scaled_epochs";
  return label;
}

// ---------------------------------------------------------------------------------------------
// Flattening configs. config_to_json builds a JSON tree per run, which costs ~10 us; at 100k runs
// that alone is a second. The fields are read directly instead, with the same normalisation;
// a test checks both agree field by field.

namespace {

// config_to_json's normalisation of fields that do not apply (keep in step with spec.cpp).
RunConfig normalised(const RunConfig& c) {
  RunConfig n = c;
  ModelConfig& m = n.model;
  const bool attn = m.is_attention_family();
  if (m.arch != Arch::mlp) m.hidden = {};
  if (m.arch == Arch::attention) m.layers = 1;
  if (!attn) {
    m.layers = 0, m.heads = 0, m.ff = 0;
    m.positions = Positions::none, m.norm = Norm::post, m.activation = Activation::relu;
  }
  if (m.arch == Arch::linear && m.one_hot) m.d_model = 0;
  if (m.arch != Arch::linear) m.one_hot = false;
  if (m.positions != Positions::rope) m.rope_base = 0, m.rope_style = RopeStyle::halves;
  if (n.train.schedule == Schedule::constant) n.train.min_lr_ratio = 0;
  if (n.data.tokenizer == TokenizerKind::chars) n.data.eos = false;
  return n;
}

void put(std::string& out, double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
void put(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
void put(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}
void put(std::string& out, int v) {
  put(out, int64_t(v));
}
void put(std::string& out, bool v) {
  out += v ? "true" : "false";
}
void put(std::string& out, const std::string& v) {
  out += v;
}
void put(std::string& out, const char* v) {
  out += v;
}
template <class T>
void put(std::string& out, const std::vector<T>& v) {
  out += '[';
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += ',';
    put(out, v[i]);
  }
  out += ']';
}

struct FieldReader {
  const char* name;
  void (*render)(const RunConfig& n, std::string& out);  // n is normalised
};

#define TF_FIELD(NAME, EXPR)                                           \
  FieldReader {                                                        \
    NAME, [](const RunConfig& n, std::string& out) { put(out, EXPR); } \
  }

const std::vector<FieldReader>& field_readers() {
  static const std::vector<FieldReader> readers{
      TF_FIELD("data.name", n.data.name),
      TF_FIELD("data.path", n.data.path),
      TF_FIELD("data.tokenizer", to_string(n.data.tokenizer)),
      TF_FIELD("data.split", n.data.split),
      TF_FIELD("data.eos", n.data.eos),
      TF_FIELD("data.vocab_from", n.data.vocab_from),
      TF_FIELD("data.max_tokens", n.data.max_tokens),
      TF_FIELD("model.arch", to_string(n.model.arch)),
      TF_FIELD("model.context", n.model.context),
      TF_FIELD("model.d_model", n.model.d_model),
      TF_FIELD("model.one_hot", n.model.one_hot),
      TF_FIELD("model.hidden", n.model.hidden),
      TF_FIELD("model.layers", n.model.layers),
      TF_FIELD("model.heads", n.model.heads),
      TF_FIELD("model.ff", n.model.ff),
      TF_FIELD("model.positions", to_string(n.model.positions)),
      TF_FIELD("model.rope_base", n.model.rope_base),
      TF_FIELD("model.rope_style", to_string(n.model.rope_style)),
      TF_FIELD("model.norm", to_string(n.model.norm)),
      TF_FIELD("model.activation", to_string(n.model.activation)),
      TF_FIELD("model.dropout", n.model.dropout),
      TF_FIELD("model.init", to_string(n.model.init)),
      TF_FIELD("train.protocol", to_string(n.train.protocol)),
      TF_FIELD("train.epochs", n.train.epochs),
      TF_FIELD("train.windows_per_epoch", n.train.windows_per_epoch),
      TF_FIELD("train.tokens", n.train.tokens),
      TF_FIELD("train.batch", n.train.batch),
      TF_FIELD("train.lr", n.train.lr),
      TF_FIELD("train.beta1", n.train.beta1),
      TF_FIELD("train.beta2", n.train.beta2),
      TF_FIELD("train.eps", n.train.eps),
      TF_FIELD("train.weight_decay", n.train.weight_decay),
      TF_FIELD("train.schedule", to_string(n.train.schedule)),
      TF_FIELD("train.warmup_steps", n.train.warmup_steps),
      TF_FIELD("train.min_lr_ratio", n.train.min_lr_ratio),
      TF_FIELD("train.grad_clip", n.train.grad_clip),
      TF_FIELD("train.eval_windows", n.train.eval_windows),
      TF_FIELD("train.eval_every", n.train.eval_every),
      TF_FIELD("train.patience", n.train.patience),
      TF_FIELD("train.restore_best", n.train.restore_best),
      TF_FIELD("train.seed", n.train.seed),
      TF_FIELD("train.threads", n.train.threads),
      TF_FIELD("train.diverge_loss", n.train.diverge_loss),
      TF_FIELD("train.budget", n.train.budget),
  };
  return readers;
}
#undef TF_FIELD

// The dotted names and rendered values of config_to_json, for fields the readers do not know.
std::vector<std::pair<std::string, std::string>> json_fields(const RunConfig& cfg) {
  std::vector<std::pair<std::string, std::string>> out;
  auto j = config_to_json(cfg);
  for (auto& [section, obj] : j.items())
    for (auto& [key, v] : obj.items())
      out.emplace_back(section + "." + key,
                       v.is_string() ? v.template get<std::string>() : v.dump());
  return out;
}

// Interns one column's values. Most fields take a handful of values, for which a linear scan
// beats hashing; a hash map takes over once a field has many.
struct ColumnInterner {
  std::vector<std::string>* values;
  std::unordered_map<std::string, int32_t> index;

  int32_t code(const std::string& v) {
    if (index.empty()) {
      for (size_t i = 0; i < values->size(); ++i)
        if ((*values)[i] == v) return int32_t(i);
      values->push_back(v);
      if (values->size() > 16)
        for (size_t i = 0; i < values->size(); ++i) index.emplace((*values)[i], int32_t(i));
      return int32_t(values->size() - 1);
    }
    auto [it, inserted] = index.emplace(v, int32_t(values->size()));
    if (inserted) values->push_back(v);
    return it->second;
  }
};

}  // namespace

std::vector<std::pair<std::string, std::string>> config_fields(const RunConfig& cfg) {
  std::vector<std::pair<std::string, std::string>> out;
  RunConfig n = normalised(cfg);
  for (const auto& f : field_readers()) {
    std::string v;
    f.render(n, v);
    out.emplace_back(f.name, std::move(v));
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> config_fields_as_given(const RunConfig& cfg) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : field_readers()) {
    std::string v;
    f.render(cfg, v);
    out.emplace_back(f.name, std::move(v));
  }
  return out;
}

int ConfigColumns::field(const std::string& name) const {
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == name) return int(i);
  return -1;
}

ConfigColumns config_columns(const std::vector<const RunConfig*>& configs) {
  ConfigColumns cols;
  cols.rows = configs.size();
  const auto& readers = field_readers();
  // Fields config_to_json has and the readers do not: taken from JSON (slow path).
  std::vector<std::string> extra;
  if (!configs.empty()) {
    std::set<std::string> known;
    for (const auto& f : readers) known.insert(f.name);
    for (auto& [name, value] : json_fields(*configs.front()))
      if (!known.count(name)) extra.push_back(name);
  }
  for (const auto& f : readers) cols.names.push_back(f.name);
  for (const auto& e : extra) cols.names.push_back(e);
  const size_t nf = cols.names.size();
  cols.codes.assign(nf, std::vector<int32_t>(configs.size()));
  cols.values.assign(nf, {});
  std::vector<ColumnInterner> interners(nf);
  for (size_t f = 0; f < nf; ++f) interners[f].values = &cols.values[f];

  std::string buf;
  for (size_t row = 0; row < configs.size(); ++row) {
    RunConfig n = normalised(*configs[row]);
    for (size_t f = 0; f < readers.size(); ++f) {
      buf.clear();
      readers[f].render(n, buf);
      cols.codes[f][row] = interners[f].code(buf);
    }
    if (!extra.empty()) {
      auto all = json_fields(*configs[row]);
      for (size_t e = 0; e < extra.size(); ++e) {
        std::string v = "(missing)";
        for (auto& [name, value] : all)
          if (name == extra[e]) v = value;
        cols.codes[readers.size() + e][row] = interners[readers.size() + e].code(v);
      }
    }
  }
  return cols;
}

}  // namespace tinyfront
