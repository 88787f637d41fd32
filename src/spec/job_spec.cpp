#include "tinyfront/spec/job_spec.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

#include "tinyfront/util/files.hpp"
#include "tinyfront/spec/toml_fields.hpp"

namespace tinyfront {

namespace {

// Where issues go while reading a section.
struct FieldContext {
  const std::string& file;
  std::vector<SpecIssue>& issues;
};

SpecIssue issue_at(const std::string& file, const toml::node& node, const std::string& key,
                   const std::string& reason) {
  auto src = node.source();
  return SpecIssue{file, int(src.begin.line), int(src.begin.column), key, reason};
}

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date/time";
  }
}

// Reads one field: checks the TOML value's type and range, and stores it into the config.
using Setter = std::function<void(const toml::node&, const std::string& key, FieldContext&)>;

template <typename I>
Setter integer(I& out, int64_t lo, int64_t hi) {
  return [&out, lo, hi](const toml::node& n, const std::string& key, FieldContext& ctx) {
    auto v = n.value<int64_t>();
    if (!n.is_integer() || !v) {
      ctx.issues.push_back(issue_at(ctx.file, n, key, "expected an integer, got " + type_name(n)));
      return;
    }
    if (*v < lo || *v > hi) {
      ctx.issues.push_back(issue_at(ctx.file, n, key,
                                    "must be in [" + std::to_string(lo) + ", " +
                                        std::to_string(hi) + "], got " + std::to_string(*v)));
      return;
    }
    out = I(*v);
  };
}

std::string fmt_double(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

Setter real(double& out, double lo, double hi, bool lo_open = false) {
  return [&out, lo, hi, lo_open](const toml::node& n, const std::string& key, FieldContext& ctx) {
    if (!n.is_number()) {
      ctx.issues.push_back(issue_at(ctx.file, n, key, "expected a number, got " + type_name(n)));
      return;
    }
    double v = n.is_integer() ? double(*n.value<int64_t>()) : *n.value<double>();
    if (!std::isfinite(v) || v < lo || v > hi || (lo_open && v == lo)) {
      ctx.issues.push_back(issue_at(ctx.file, n, key,
                                    std::string("must be in ") + (lo_open ? "(" : "[") +
                                        fmt_double(lo) + ", " + fmt_double(hi) + "], got " +
                                        fmt_double(v)));
      return;
    }
    out = v;
  };
}

Setter boolean(bool& out) {
  return [&out](const toml::node& n, const std::string& key, FieldContext& ctx) {
    if (!n.is_boolean()) {
      ctx.issues.push_back(issue_at(ctx.file, n, key, "expected a boolean, got " + type_name(n)));
      return;
    }
    out = *n.value<bool>();
  };
}

Setter string(std::string& out) {
  return [&out](const toml::node& n, const std::string& key, FieldContext& ctx) {
    if (!n.is_string()) {
      ctx.issues.push_back(issue_at(ctx.file, n, key, "expected a string, got " + type_name(n)));
      return;
    }
    out = *n.value<std::string>();
  };
}

template <typename E>
Setter enumeration(E& out, const char* choices) {
  return [&out, choices](const toml::node& n, const std::string& key, FieldContext& ctx) {
    if (!n.is_string()) {
      ctx.issues.push_back(
          issue_at(ctx.file, n, key,
                   "expected a string (" + std::string(choices) + "), got " + type_name(n)));
      return;
    }
    std::string s = *n.value<std::string>();
    if (!parse_enum(s, out))
      ctx.issues.push_back(
          issue_at(ctx.file, n, key, "unknown value \"" + s + "\" (expected " + choices + ")"));
  };
}

Setter int_list(std::vector<int>& out, int lo, int hi) {
  return [&out, lo, hi](const toml::node& n, const std::string& key, FieldContext& ctx) {
    const toml::array* a = n.as_array();
    if (!a || a->empty()) {
      ctx.issues.push_back(issue_at(ctx.file, n, key,
                                    "expected a non-empty array of integers, got " + type_name(n)));
      return;
    }
    std::vector<int> v;
    for (auto& e : *a) {
      auto x = e.value<int64_t>();
      if (!e.is_integer() || *x < lo || *x > hi) {
        ctx.issues.push_back(issue_at(ctx.file, e, key,
                                      "elements must be integers in [" + std::to_string(lo) + ", " +
                                          std::to_string(hi) + "]"));
        return;
      }
      v.push_back(int(*x));
    }
    out = v;
  };
}

Setter fraction_list(std::vector<double>& out) {
  return [&out](const toml::node& n, const std::string& key, FieldContext& ctx) {
    const toml::array* a = n.as_array();
    if (!a || a->size() != 3) {
      ctx.issues.push_back(issue_at(
          ctx.file, n, key, "expected [train, valid, test] fractions, got " + type_name(n)));
      return;
    }
    std::vector<double> v;
    for (auto& e : *a) {
      if (!e.is_number()) {
        ctx.issues.push_back(issue_at(ctx.file, e, key, "fractions must be numbers"));
        return;
      }
      double x = e.is_integer() ? double(*e.value<int64_t>()) : *e.value<double>();
      if (!(x > 0 && x < 1)) {
        ctx.issues.push_back(issue_at(ctx.file, e, key, "each fraction must be in (0, 1)"));
        return;
      }
      v.push_back(x);
    }
    if (std::abs(v[0] + v[1] + v[2] - 1.0) > 1e-9) {
      ctx.issues.push_back(issue_at(ctx.file, n, key, "fractions must sum to 1"));
      return;
    }
    out = v;
  };
}

Setter token_limits(std::vector<int64_t>& out) {
  return [&out](const toml::node& n, const std::string& key, FieldContext& ctx) {
    const toml::array* a = n.as_array();
    if (!a || a->size() != 3) {
      ctx.issues.push_back(issue_at(ctx.file, n, key,
                                    "expected [train, valid, test] token counts (0 = whole split), "
                                    "got " +
                                        type_name(n)));
      return;
    }
    std::vector<int64_t> v;
    for (auto& e : *a) {
      auto x = e.value<int64_t>();
      if (!e.is_integer() || *x < 0) {
        ctx.issues.push_back(issue_at(ctx.file, e, key, "token counts must be integers >= 0"));
        return;
      }
      v.push_back(*x);
    }
    out = v;
  };
}

// The schema: section -> key -> setter bound to cfg's fields.
using Schema = std::map<std::string, std::map<std::string, Setter>>;

Schema make_schema(RunConfig& c) {
  constexpr int64_t kBig = int64_t(1) << 50;
  Schema s;
  auto& d = s["data"];
  d["name"] = string(c.data.name);
  d["path"] = string(c.data.path);
  d["tokenizer"] = enumeration(c.data.tokenizer, "chars, words");
  d["split"] = fraction_list(c.data.split);
  d["eos"] = boolean(c.data.eos);
  d["vocab_from"] = [&c](const toml::node& n, const std::string& key, FieldContext& ctx) {
    std::string v;
    string(v)(n, key, ctx);
    if (v.empty()) return;
    if (v != "all" && v != "train")
      ctx.issues.push_back(
          issue_at(ctx.file, n, key, "unknown value \"" + v + "\" (expected all, train)"));
    else
      c.data.vocab_from = v;
  };
  d["max_tokens"] = token_limits(c.data.max_tokens);
  auto& m = s["model"];
  m["arch"] = enumeration(c.model.arch, "linear, mlp, attention, transformer");
  m["context"] = integer(c.model.context, 1, 1 << 16);
  m["d_model"] = integer(c.model.d_model, 1, 1 << 16);
  m["one_hot"] = boolean(c.model.one_hot);
  m["hidden"] = int_list(c.model.hidden, 1, 1 << 20);
  m["layers"] = integer(c.model.layers, 1, 256);
  m["heads"] = integer(c.model.heads, 1, 1024);
  m["ff"] = integer(c.model.ff, 1, 1 << 20);
  m["positions"] = enumeration(c.model.positions, "learned, rope, none");
  m["rope_base"] = real(c.model.rope_base, 1.0, 1e12, true);
  m["rope_style"] = enumeration(c.model.rope_style, "halves, interleaved");
  m["norm"] = enumeration(c.model.norm, "post, pre");
  m["activation"] = enumeration(c.model.activation, "relu, gelu, gelu_tanh");
  m["dropout"] = real(c.model.dropout, 0.0, 0.95);
  m["init"] = enumeration(c.model.init, "torch, gpt2");
  auto& t = s["train"];
  t["protocol"] = enumeration(c.train.protocol, "paper, causal");
  t["epochs"] = integer(c.train.epochs, 1, 1 << 20);
  t["windows_per_epoch"] = integer(c.train.windows_per_epoch, 1, kBig);
  t["tokens"] = integer(c.train.tokens, 0, kBig);
  t["batch"] = integer(c.train.batch, 1, 1 << 16);
  t["lr"] = real(c.train.lr, 0.0, 10.0, true);
  t["beta1"] = real(c.train.beta1, 0.0, 0.999999);
  t["beta2"] = real(c.train.beta2, 0.0, 0.999999999);
  t["eps"] = real(c.train.eps, 0.0, 1.0, true);
  t["weight_decay"] = real(c.train.weight_decay, 0.0, 10.0);
  t["schedule"] = enumeration(c.train.schedule, "constant, cosine");
  t["warmup_steps"] = integer(c.train.warmup_steps, 0, kBig);
  t["min_lr_ratio"] = real(c.train.min_lr_ratio, 0.0, 1.0);
  t["grad_clip"] = real(c.train.grad_clip, 0.0, 1e9);
  t["eval_windows"] = integer(c.train.eval_windows, 0, kBig);
  t["eval_every"] = integer(c.train.eval_every, 0, kBig);
  t["patience"] = integer(c.train.patience, 0, 1 << 20);
  t["restore_best"] = boolean(c.train.restore_best);
  t["seed"] = integer(c.train.seed, 0, std::numeric_limits<int64_t>::max());
  t["threads"] = integer(c.train.threads, 1, 1024);
  t["diverge_loss"] = real(c.train.diverge_loss, 0.0, 1e30, true);
  return s;
}

}  // namespace

void apply_spec_table(RunConfig& cfg, const toml::table& root, const std::string& file,
                      std::vector<SpecIssue>& issues) {
  Schema schema = make_schema(cfg);
  FieldContext ctx{file, issues};
  for (auto&& [section_key, section_node] : root) {
    std::string section(section_key.str());
    auto sec = schema.find(section);
    if (sec == schema.end()) continue;  // callers decide which other sections are allowed
    const toml::table* tbl = section_node.as_table();
    if (!tbl) {
      issues.push_back(issue_at(file, section_node, section, "expected a table [" + section + "]"));
      continue;
    }
    for (auto&& [k, node] : *tbl) {
      std::string key(k.str());
      auto f = sec->second.find(key);
      if (f == sec->second.end()) {
        auto ks = k.source();  // point at the key itself, not its value
        issues.push_back(
            {file, int(ks.begin.line), int(ks.begin.column), section + "." + key, "unknown key"});
        continue;
      }
      f->second(node, section + "." + key, ctx);
    }
  }
}

void apply_field(RunConfig& cfg, const std::string& dotted_key, const toml::node& value,
                 const std::string& file, std::vector<SpecIssue>& issues) {
  FieldWriter(cfg).apply(dotted_key, value, file, issues);
}

struct FieldWriter::Table {
  Schema schema;
};

FieldWriter::FieldWriter(RunConfig& target) : table_(new Table{make_schema(target)}) {}
FieldWriter::~FieldWriter() = default;

void FieldWriter::apply(const std::string& dotted_key, const toml::node& value,
                        const std::string& file, std::vector<SpecIssue>& issues) {
  const Schema& schema = table_->schema;
  auto dot = dotted_key.find('.');
  if (dot != std::string::npos) {
    auto sec = schema.find(dotted_key.substr(0, dot));
    if (sec != schema.end()) {
      auto f = sec->second.find(dotted_key.substr(dot + 1));
      if (f != sec->second.end()) {
        FieldContext ctx{file, issues};
        f->second(value, dotted_key, ctx);
        return;
      }
    }
  }
  issues.push_back(issue_at(file, value, dotted_key, "unknown key"));
}

bool is_known_field(const std::string& dotted_key) {
  RunConfig scratch;
  Schema schema = make_schema(scratch);
  auto dot = dotted_key.find('.');
  if (dot == std::string::npos) return false;
  auto sec = schema.find(dotted_key.substr(0, dot));
  return sec != schema.end() && sec->second.count(dotted_key.substr(dot + 1)) > 0;
}

void apply_override(RunConfig& cfg, const std::string& assignment, std::vector<SpecIssue>& issues) {
  const std::string where = "--set " + assignment;
  auto eq = assignment.find('=');
  auto dot = assignment.find('.');
  if (eq == std::string::npos || dot == std::string::npos || dot > eq) {
    issues.push_back({"<command line>", 0, 0, where, "expected section.key=value"});
    return;
  }
  std::string section = assignment.substr(0, dot);
  std::string key = assignment.substr(dot + 1, eq - dot - 1);
  std::string value = assignment.substr(eq + 1);
  // Parse the value as TOML; a bare word that is not valid TOML is taken as a string.
  toml::table doc;
  try {
    doc = toml::parse("v = " + value);
  } catch (const toml::parse_error&) {
    doc = toml::table{{"v", value}};
  }
  toml::table sec;
  sec.insert(key, *doc.get("v"));
  toml::table root;
  root.insert(section, sec);
  Schema schema = make_schema(cfg);
  if (!schema.count(section)) {
    issues.push_back({"<command line>", 0, 0, section + "." + key,
                      "unknown section \"" + section + "\" (expected data, model, train)"});
    return;
  }
  std::vector<SpecIssue> local;
  apply_spec_table(cfg, root, "<command line>", local);
  for (auto& i : local) {
    i.line = i.column = 0;
    i.reason += " (from --set)";
    issues.push_back(i);
  }
}

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

RunConfig load_job_spec(const std::string& path, const std::vector<std::string>& overrides) {
  std::vector<SpecIssue> issues;
  // A FIFO or a device must not block or flood the reader: only regular files are specs.
  if (auto problem = regular_file_problem(path); !problem.empty())
    throw SpecError({{path, 0, 0, "", problem}});
  toml::table root;
  try {
    root = toml::parse(read_regular_file(path, "spec"), path);
  } catch (const toml::parse_error& e) {
    auto src = e.source();
    throw SpecError({{path, int(src.begin.line), int(src.begin.column), "",
                      "TOML syntax error: " + std::string(e.description())}});
  }
  RunConfig cfg;
  for (auto&& [k, node] : root) {
    std::string s(k.str());
    if (s != "data" && s != "model" && s != "train")
      issues.push_back(issue_at(path, node, s, "unknown section (expected data, model, train)"));
  }
  apply_spec_table(cfg, root, path, issues);
  for (auto& o : overrides) apply_override(cfg, o, issues);
  validate_config(cfg, path, issues);
  if (!issues.empty()) throw SpecError(issues);
  return cfg;
}

}  // namespace tinyfront
