#include "tinyfront/spec/job_spec.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <sstream>
#include <type_traits>

#include "tinyfront/run/fields.hpp"
#include "tinyfront/spec/toml_fields.hpp"
#include "tinyfront/util/files.hpp"
#include "tinyfront/util/utf8.hpp"

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
Setter enumeration(E& out) {
  const std::string choices = enum_choices<E>();
  return [&out, choices](const toml::node& n, const std::string& key, FieldContext& ctx) {
    if (!n.is_string()) {
      ctx.issues.push_back(
          issue_at(ctx.file, n, key, "expected a string (" + choices + "), got " + type_name(n)));
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

// Integer bounds of the field table, which holds them as doubles (the seed's bound is the
// largest int64, which a double rounds up).
int64_t integer_bound(double x) {
  return x >= 9.2e18 ? std::numeric_limits<int64_t>::max() : int64_t(x);
}

// A string that must be one of `choices` ("all, train"); an empty string keeps the default.
Setter text_choice(std::string& out, std::string choices) {
  return [&out, choices](const toml::node& n, const std::string& key, FieldContext& ctx) {
    std::string v;
    string(v)(n, key, ctx);
    if (v.empty()) return;
    std::stringstream list(choices);
    for (std::string choice; std::getline(list >> std::ws, choice, ',');)
      if (v == choice) {
        out = v;
        return;
      }
    ctx.issues.push_back(
        issue_at(ctx.file, n, key, "unknown value \"" + v + "\" (expected " + choices + ")"));
  };
}

template <class>
constexpr bool kUnhandledType = false;

// The setter of one field of the table (run/fields.hpp), chosen by the member's type.
template <class T>
Setter setter_for(const FieldInfo& f, T& member) {
  if constexpr (std::is_enum_v<T>)
    return enumeration(member);
  else if constexpr (std::is_same_v<T, bool>)
    return boolean(member);
  else if constexpr (std::is_integral_v<T>)
    return integer(member, integer_bound(f.lo), integer_bound(f.hi));
  else if constexpr (std::is_same_v<T, double>)
    return real(member, f.lo, f.hi, f.lo_open);
  else if constexpr (std::is_same_v<T, std::string>)
    return f.choices ? text_choice(member, f.choices) : string(member);
  else if constexpr (std::is_same_v<T, std::vector<int>>)
    return int_list(member, int(f.lo), int(f.hi));
  else if constexpr (std::is_same_v<T, std::vector<double>>)
    return fraction_list(member);
  else if constexpr (std::is_same_v<T, std::vector<int64_t>>)
    return token_limits(member);
  else
    static_assert(kUnhandledType<T>, "a field type without a spec setter");
}

// The schema: section -> key -> setter bound to cfg's fields, one per field of the table that a
// spec may set.
using Schema = std::map<std::string, std::map<std::string, Setter>>;

Schema make_schema(RunConfig& c) {
  Schema s;
  for_each_field(c, [&s](const FieldInfo& f, auto& member, const auto&) {
    if (f.in_spec) s[f.section][f.key] = setter_for(f, member);
  });
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
  // Spec values are text (TOML and the JSON of results files are UTF-8): bytes that are not
  // UTF-8 are refused here, by name, rather than failing later inside a JSON library.
  if (auto bad = utf8_problem(value); !bad.empty()) {
    issues.push_back({"<command line>", 0, 0, "--set " + section + "." + key,
                      "the value is " + bad + "; spec values must be UTF-8 text"});
    return;
  }
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
  cfg.data.path.clear();  // no default corpus: a spec must name one
  if (root.empty())
    issues.push_back(
        {path, 0, 0, "", "the spec is empty (expected [data] path = \"...\", [model], [train])"});
  for (auto&& [k, node] : root) {
    std::string s(k.str());
    if (s != "data" && s != "model" && s != "train")
      issues.push_back(issue_at(path, node, s, "unknown section (expected data, model, train)"));
  }
  apply_spec_table(cfg, root, path, issues);
  for (auto& o : overrides) apply_override(cfg, o, issues);
  if (cfg.data.path.empty() && !root.empty())
    issues.push_back({path, 0, 0, "data.path", "no corpus given: set path in [data]"});
  validate_config(cfg, path, issues);
  if (!issues.empty()) throw SpecError(issues);
  return cfg;
}

}  // namespace tinyfront
