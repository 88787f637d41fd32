#include "tinyfront/spec/sweep_spec.hpp"

#include <omp.h>
#include <toml++/toml.h>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <set>
#include <sstream>
#include <unordered_set>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/model/flops.hpp"
#include "tinyfront/model/model.hpp"
#include "tinyfront/run/budget.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/run/fields.hpp"
#include "tinyfront/spec/job_spec.hpp"
#include "tinyfront/spec/toml_fields.hpp"
#include "tinyfront/util/auto_threads.hpp"
#include "tinyfront/util/files.hpp"
#include "tinyfront/util/utf8.hpp"

namespace fs = std::filesystem;

namespace tinyfront {

double RunCost::flops(FlopConvention c) const {
  return c == FlopConvention::study    ? flops_study
         : c == FlopConvention::kaplan ? flops_kaplan
                                       : flops_exact;
}

std::string data_key(const DataConfig& d) {
  // Asked for every run of a grid (a million of them), whose data configs are nearly always
  // the same few: the last answer is kept.
  thread_local DataConfig last;
  thread_local std::string key;
  if (key.empty() || !(d == last)) {
    RunConfig c;
    c.data = d;
    key = config_to_json(c)["data"].dump();
    last = d;
  }
  return key;
}

RunCost run_cost(const RunConfig& cfg_in, const CorpusInfo& corpus) {
  RunConfig cfg = cfg_in;
  cfg.model.vocab = corpus.vocab;
  RunCost c;
  c.params = count_params(cfg.model);
  c.params_non_embedding = c.params - count_embedding_params(cfg.model);
  Budget b = training_budget(cfg, corpus.train);
  const int64_t T = cfg.model.context;
  const int tpw = targets_per_window(cfg.model, cfg.train.protocol);
  c.windows = b.windows;
  c.train_tokens = b.windows * T;
  c.train_targets = b.windows * tpw;
  c.flops_study = 2.0 * double(c.params) * double(c.train_tokens);
  c.flops_kaplan = 6.0 * double(c.params_non_embedding) * double(c.train_targets);
  c.flops_exact = exact_flops_per_window(cfg.model, cfg.train.protocol) * double(b.windows);
  // Evaluation windows: validations (one per epoch or eval_every) plus one test pass.
  const TrainConfig& t = cfg.train;
  auto eval_windows = [&](int64_t n, int64_t cap) {
    int64_t w = tpw == 1 ? n - T : (n - 1) / T;
    return cap > 0 ? std::min(w, cap) : w;
  };
  int64_t evals = t.eval_every > 0                ? (b.steps + t.eval_every - 1) / t.eval_every
                  : t.protocol == Protocol::paper ? t.epochs
                                                  : std::min<int64_t>(10, b.steps);
  double fwd = exact_forward_flops_per_window(cfg.model, cfg.train.protocol);
  c.eval_flops =
      fwd * double(evals * eval_windows(corpus.valid, t.eval_windows) +
                   eval_windows(corpus.test, t.protocol == Protocol::paper ? t.eval_windows : 0));
  return c;
}

int shard_of(const std::string& id, int shard_count) {
  if (shard_count <= 1) return 0;
  return int(std::stoull(id, nullptr, 16) % uint64_t(shard_count));
}

bool in_shard(const std::string& id, int shard_index, int shard_count) {
  return shard_of(id, shard_count) == shard_index;
}

namespace {

using Issues = std::vector<SpecIssue>;

std::string fmt_number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

SpecIssue at(const std::string& file, const toml::node& n, const std::string& key,
             const std::string& reason) {
  auto s = n.source();
  return {file, int(s.begin.line), int(s.begin.column), key, reason};
}

// Flattens nested TOML tables into (dotted name, node) pairs, stopping at known fields, so that
// `model.hidden = [..]` is one field even though its value is an array.
void flatten(const toml::table& t, const std::string& prefix,
             std::vector<std::pair<std::string, const toml::node*>>& out) {
  for (auto&& [k, v] : t) {
    std::string name = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (v.is_table() && !is_known_field(name))
      flatten(*v.as_table(), name, out);
    else
      out.emplace_back(name, &v);
  }
}

bool list_valued(const std::string& field) {
  return field == "model.hidden" || field == "data.split" || field == "data.max_tokens";
}

// The values of an axis: the elements of its array (for list-valued fields an array of arrays).
std::vector<const toml::node*> axis_values(const std::string& field, const toml::node& n) {
  std::vector<const toml::node*> vals;
  const toml::array* a = n.as_array();
  bool is_axis = a && (!list_valued(field) || (!a->empty() && a->front().is_array()));
  if (is_axis)
    for (auto& e : *a) vals.push_back(&e);
  else
    vals.push_back(&n);
  return vals;
}

struct Axis {
  std::string field;
  std::vector<const toml::node*> values;
};

// A value of a field in a config, as canonical JSON text (to compare with exclude rules).
std::string field_json(const RunConfig& c, const std::string& field) {
  auto j = config_to_json(c);
  auto dot = field.find('.');
  return j[field.substr(0, dot)][field.substr(dot + 1)].dump();
}

// The value of an exclude rule as canonical JSON; a value of the wrong type or range could never
// match any run, so it is an issue (keyed exclude.<field>), not a rule that silently drops nothing.
std::string node_json(const std::string& field, const toml::node& n, const std::string& file,
                      Issues& issues) {
  RunConfig c;
  Issues local;
  apply_field(c, field, n, file, local);
  for (auto& i : local) {
    i.key = "exclude." + i.key;
    issues.push_back(i);
  }
  return field_json(c, field);
}

std::string node_kind(const toml::node& n) {
  if (n.is_table()) return "a table";
  if (n.is_array()) {
    const toml::array& a = *n.as_array();
    if (a.empty()) return "an empty array";
    const std::string item = node_kind(a.front());  // "an integer" -> "integers"
    return "an array of " + item.substr(item.find(' ') + 1) + "s";
  }
  if (n.is_string()) return "a string";
  if (n.is_integer()) return "an integer";
  if (n.is_floating_point()) return "a float";
  if (n.is_boolean()) return "a boolean";
  return "a date/time";
}

}  // namespace

SweepSpec load_sweep_spec(const std::string& path, const std::vector<std::string>& overrides) {
  SweepSpec spec;
  spec.path = path;
  spec.base_dir = fs::path(path).parent_path().string();
  // A FIFO or a device must not block or flood the reader: only regular files are specs.
  if (auto problem = regular_file_problem(path); !problem.empty())
    throw SpecError({{path, 0, 0, "", problem}});
  try {
    spec.text = read_regular_file(path, "spec");
  } catch (const Error& e) {
    throw SpecError({{path, 0, 0, "", e.what()}});
  }
  toml::table root;
  try {
    root = toml::parse(spec.text, path);
  } catch (const toml::parse_error& e) {
    auto s = e.source();
    throw SpecError({{path, int(s.begin.line), int(s.begin.column), "",
                      "TOML syntax error: " + std::string(e.description())}});
  }
  Issues issues;
  const std::set<std::string> sections = {"sweep",   "defaults", "grid",  "subgrid",
                                          "exclude", "include",  "budget"};
  for (auto&& [k, v] : root)
    if (!sections.count(std::string(k.str())))
      issues.push_back(at(path, v, std::string(k.str()),
                          "unknown section (expected sweep, defaults, grid, subgrid, exclude, "
                          "include, budget)"));
  // Every section is read or refused: one of the wrong shape ([exclude] written for
  // [[exclude]], `grid = 3`) would otherwise be skipped, and the grid silently differ.
  if (root.empty())
    issues.push_back({path, 0, 0, "",
                      "the spec is empty (expected at least [defaults] with data.path; see "
                      "docs/sweep-spec.md)"});
  for (const char* name : {"sweep", "defaults", "grid", "budget"})
    if (const toml::node* n = root.get(name); n && !n->is_table())
      issues.push_back(at(path, *n, name, "expected a table [" + std::string(name) + "]"));
  for (const char* name : {"subgrid", "exclude", "include"}) {
    const toml::node* n = root.get(name);
    if (!n) continue;
    const std::string want = "expected [[" + std::string(name) + "]] tables (an array of tables)";
    if (n->is_table())
      issues.push_back(
          at(path, *n, name,
             want + ", got a single table: write [[" + name + "]], not [" + name + "]"));
    else if (!n->is_array_of_tables())
      issues.push_back(at(path, *n, name, want + ", got " + node_kind(*n)));
  }

  // [sweep]
  SweepSettings& S = spec.settings;
  auto read_sweep_key = [&](const std::string& key, const toml::node& v) {
    const std::string name = "sweep." + key;
    auto num = [&](double& out, double lo) {
      if (!v.is_number()) return issues.push_back(at(path, v, name, "expected a number"));
      double x = v.is_integer() ? double(*v.value<int64_t>()) : *v.value<double>();
      if (!(x >= lo) || !std::isfinite(x))
        return issues.push_back(
            at(path, v, name,
               "must be a finite number >= " + fmt_number(lo) + ", got " + fmt_number(x)));
      out = x;
    };
    // A whole number in [lo, hi]: 1.5 threads or 1e12 threads is a mistake, not 1 or INT_MIN.
    auto whole = [&](int64_t& out, int64_t lo, int64_t hi) {
      if (!v.is_number()) return issues.push_back(at(path, v, name, "expected an integer"));
      const double x = v.is_integer() ? double(*v.value<int64_t>()) : *v.value<double>();
      if (!(x >= double(lo) && x <= double(hi)) || x != std::floor(x))
        return issues.push_back(at(path, v, name,
                                   "expected an integer in [" + std::to_string(lo) + ", " +
                                       std::to_string(hi) + "], got " + fmt_number(x)));
      out = v.is_integer() ? *v.value<int64_t>() : int64_t(x);
    };
    if (key == "name") {
      if (!v.is_string()) return issues.push_back(at(path, v, name, "expected a string"));
      S.name = *v.value<std::string>();
    } else if (key == "threads_per_rank") {
      // "auto": each rank picks its own count where it runs (util/auto_threads.hpp).
      if (v.is_string()) {
        if (*v.value<std::string>() != "auto")
          return issues.push_back(at(path, v, name, "expected an integer or \"auto\""));
        S.threads_per_rank = kAutoThreads;
        return;
      }
      int64_t x = S.threads_per_rank;
      whole(x, 1, 1024);
      S.threads_per_rank = int(x);
    } else if (key == "max_runs") {
      whole(S.max_runs, 1, int64_t(1) << 40);
    } else if (key == "max_total_flops")
      num(S.max_total_flops, 0);
    else if (key == "max_run_flops")
      num(S.max_run_flops, 0);
    else if (key == "max_hours")
      num(S.max_hours, 0);
    else if (key == "checkpoint_seconds")
      num(S.checkpoint_seconds, 0);
    else if (key == "checkpoint_steps") {
      whole(S.checkpoint_steps, 0, int64_t(1) << 50);
    } else if (key == "flops_convention") {
      if (!parse_enum(v.value<std::string>().value_or(""), S.flops_convention))
        issues.push_back(at(path, v, name, "expected \"study\", \"kaplan\" or \"exact\""));
    } else {
      issues.push_back(at(path, v, name, "unknown key"));
    }
  };
  if (auto* t = root["sweep"].as_table())
    for (auto&& [k, v] : *t) read_sweep_key(std::string(k.str()), v);

  // [defaults]
  RunConfig defaults;
  // No default corpus: a spec that names none is a mistake, not a request for Tiny Shakespeare.
  defaults.data.path.clear();
  if (auto* t = root["defaults"].as_table()) {
    std::vector<std::pair<std::string, const toml::node*>> fields;
    flatten(*t, "", fields);
    for (auto& [f, n] : fields) apply_field(defaults, f, *n, path, issues);
  }
  // Command-line overrides: sweep.* or a defaults field.
  toml::table override_doc;  // keeps parsed override values alive
  for (auto& o : overrides) {
    if (o.rfind("sweep.", 0) == 0) {
      auto eq = o.find('=');
      if (eq == std::string::npos) {
        issues.push_back({"<command line>", 0, 0, "--set " + o, "expected section.key=value"});
        continue;
      }
      if (auto bad = utf8_problem(o.substr(eq + 1)); !bad.empty()) {
        issues.push_back({"<command line>", 0, 0, "--set " + o.substr(0, eq),
                          "the value is " + bad + "; spec values must be UTF-8 text"});
        continue;
      }
      toml::table doc;
      try {
        doc = toml::parse("v = " + o.substr(eq + 1));
      } catch (const toml::parse_error&) {
        doc = toml::table{{"v", o.substr(eq + 1)}};
      }
      // Blame the option, not line 1 of the spec: the value was parsed from the command line.
      const size_t first = issues.size();
      read_sweep_key(o.substr(6, eq - 6), *doc.get("v"));
      for (size_t i = first; i < issues.size(); ++i) {
        issues[i].file = "<command line>";
        issues[i].line = issues[i].column = 0;
        issues[i].reason += " (from --set)";
      }
    } else {
      apply_override(defaults, o, issues);
    }
  }

  // Axes: the shared grid, then each subgrid's fixed settings and axes.
  auto read_axes = [&](const toml::table& t, std::vector<Axis>& axes) {
    std::vector<std::pair<std::string, const toml::node*>> fields;
    flatten(t, "", fields);
    for (auto& [f, n] : fields) {
      Axis a{f, axis_values(f, *n)};
      if (a.values.empty()) {
        issues.push_back(at(path, *n, f, "an axis needs at least one value"));
        continue;
      }
      RunConfig scratch = defaults;
      for (auto* v : a.values) apply_field(scratch, f, *v, path, issues);  // type/range checks
      axes.push_back(a);
    }
  };
  std::vector<Axis> shared;
  if (auto* t = root["grid"].as_table()) read_axes(*t, shared);

  struct Subgrid {
    std::string name;
    std::vector<std::pair<std::string, const toml::node*>> set;
    std::vector<Axis> axes;
  };
  std::vector<Subgrid> subgrids;
  if (auto* arr = root["subgrid"].as_array()) {
    for (auto& e : *arr) {
      const toml::table* t = e.as_table();
      if (!t) {
        issues.push_back(at(path, e, "subgrid", "expected [[subgrid]] tables"));
        continue;
      }
      Subgrid sg;
      for (auto&& [k, v] : *t) {
        std::string key(k.str());
        if (key == "name") {
          if (!v.is_string())
            issues.push_back(at(path, v, "subgrid.name", "expected a string, got " + node_kind(v)));
          sg.name = v.value_or(std::string());
        } else if ((key == "set" || key == "grid") && !v.is_table()) {
          issues.push_back(at(path, v, "subgrid." + key,
                              "expected a table (" + key + ".<field> = ...), got " + node_kind(v)));
        } else if (key == "set") {
          flatten(*v.as_table(), "", sg.set);
          RunConfig scratch = defaults;
          for (auto& [f, n] : sg.set) apply_field(scratch, f, *n, path, issues);
        } else if (key == "grid")
          read_axes(*v.as_table(), sg.axes);
        else
          issues.push_back(at(path, v, "subgrid." + key,
                              "unknown key (expected name, set.<field>, grid.<field>)"));
      }
      subgrids.push_back(sg);
    }
  }
  if (subgrids.empty()) subgrids.push_back({});

  // Exclusion rules: field -> accepted JSON values.
  std::vector<std::vector<std::pair<std::string, std::set<std::string>>>> excludes;
  if (auto* arr = root["exclude"].as_array()) {
    for (auto& e : *arr) {
      const toml::table* t = e.as_table();
      if (!t) continue;  // refused above
      std::vector<std::pair<std::string, const toml::node*>> fields;
      flatten(*t, "", fields);
      if (fields.empty())
        issues.push_back(at(path, e, "exclude", "an exclude rule needs at least one field"));
      std::vector<std::pair<std::string, std::set<std::string>>> rule;
      for (auto& [f, n] : fields) {
        if (!is_known_field(f)) {
          issues.push_back(at(path, *n, "exclude." + f, "unknown field"));
          continue;
        }
        std::set<std::string> vals;
        for (auto* v : axis_values(f, *n)) vals.insert(node_json(f, *v, path, issues));
        rule.emplace_back(f, vals);
      }
      excludes.push_back(rule);
    }
  }

  // [budget]
  std::string mode = "fixed";
  const toml::node* mode_node = nullptr;
  std::map<std::string, std::pair<const toml::node*, std::vector<double>>> budget_axes;
  FlopConvention iso_convention = FlopConvention::study;
  std::vector<std::pair<std::string, const toml::node*>> reference;
  const toml::table* budget_table = root["budget"].as_table();
  if (budget_table) {
    for (auto&& [k, v] : *budget_table) {
      std::string key(k.str());
      auto numbers = [&](const toml::node& n) {
        std::vector<double> out;
        auto push = [&](const toml::node& x) {
          const double d = !x.is_number()   ? NAN
                           : x.is_integer() ? double(*x.value<int64_t>())
                                            : *x.value<double>();
          // nan and inf are TOML numbers too; neither buys a definite number of steps.
          if (!(d > 0) || !std::isfinite(d))
            issues.push_back(at(path, x, "budget." + key,
                                "expected positive finite numbers, got " +
                                    (x.is_number() ? fmt_number(d) : std::string("a non-number"))));
          else
            out.push_back(d);
        };
        if (auto* a = n.as_array())
          for (auto& x : *a) push(x);
        else
          push(n);
        return out;
      };
      if (key == "mode") {
        mode_node = &v;
        mode = v.value<std::string>().value_or("");
        if (mode != "fixed" && mode != "tokens_per_param" && mode != "iso_flops" &&
            mode != "scaled_epochs")
          issues.push_back(at(path, v, "budget.mode",
                              "expected fixed, tokens_per_param, iso_flops or scaled_epochs"));
      } else if (key == "tokens_per_param" || key == "iso_flops") {
        budget_axes[key] = {&v, numbers(v)};
      } else if (key == "convention") {
        if (!parse_enum(v.value<std::string>().value_or(""), iso_convention))
          issues.push_back(at(path, v, "budget.convention", "expected study, kaplan or exact"));
      } else if (key == "reference" && !v.is_table()) {
        issues.push_back(at(path, v, "budget.reference",
                            "expected a table (reference.<field> = value), got " + node_kind(v)));
      } else if (key == "reference") {
        flatten(*v.as_table(), "", reference);
        RunConfig scratch;
        for (auto& [f, n] : reference) apply_field(scratch, f, *n, path, issues);
      } else {
        issues.push_back(at(path, v, "budget." + key, "unknown key"));
      }
    }
    // Budget values are used only by their own mode; values the mode ignores would silently
    // give runs another budget than the one written.
    for (auto& [key, given] : budget_axes)
      if (key != mode)
        issues.push_back(at(path, *given.first, "budget." + key,
                            "not used by budget.mode = \"" + mode + "\"" +
                                (mode_node ? "" : " (the default: no mode given)") +
                                "; set budget.mode = \"" + key + "\" to use it"));
    if ((mode == "tokens_per_param" || mode == "iso_flops") && !budget_axes.count(mode))
      issues.push_back(
          at(path, *budget_table, "budget." + mode, "give at least one value for this mode"));
    if (mode == "scaled_epochs" && reference.empty())
      issues.push_back(at(path, *budget_table, "budget.reference",
                          "scaled_epochs needs reference.<field> = value (the reference model)"));
  }
  const std::vector<double> budget_values =
      budget_axes.count(mode) ? budget_axes[mode].second : std::vector<double>();
  if (!issues.empty()) throw SpecError(issues);

  // Count the grid before expanding it: an axis of 10^4 values typed by mistake must be refused
  // at once, not after minutes and gigabytes of expansion. Counted in doubles: a product of
  // many axes may not fit 64 bits.
  {
    const double per_point = budget_values.empty() ? 1.0 : double(budget_values.size());
    double points = 0;
    std::string shape;
    for (auto& sg : subgrids) {
      double n = 1;
      std::string axes_text;
      for (const std::vector<Axis>* axes : {&shared, &sg.axes})
        for (auto& a : *axes) {
          n *= double(a.values.size());
          axes_text +=
              (axes_text.empty() ? "" : " x ") + a.field + " " + std::to_string(a.values.size());
        }
      points += n;
      if (shape.size() < 400)
        shape += (shape.empty() ? "" : "; ") + (sg.name.empty() ? "" : sg.name + ": ") +
                 (axes_text.empty() ? std::string("1") : axes_text);
    }
    if (auto* arr = root["include"].as_array()) points += double(arr->size());
    const double runs = points * per_point;
    if (runs > double(S.max_runs)) {
      const toml::node* where = root["grid"].node();
      std::string reason =
          "the grid expands to " + fmt_number(runs) + " runs (" + shape +
          (per_point > 1 ? "; x " + fmt_number(per_point) + " budget values" : "") +
          "), more than sweep.max_runs = " + std::to_string(S.max_runs) +
          "; raise sweep.max_runs (or --set sweep.max_runs=N) if the grid is meant to be this "
          "large";
      throw SpecError(
          {where ? at(path, *where, "grid", reason) : SpecIssue{path, 0, 0, "grid", reason}});
    }
  }

  // Expand: each subgrid x shared axes (cartesian product, first axis outermost), then the
  // includes. Each point is built in one reused config, filtered, sized, checked and kept at
  // once, so memory holds only the runs kept.
  constexpr int64_t kMaxCount = int64_t(1) << 50;  // spec.cpp's limit on train.tokens/windows
  RunConfig c;                                     // the point being built; `writer` is bound to it
  FieldWriter writer(c);
  Issues ignore;  // values were checked above
  std::set<std::string> seen_issue, failed_corpora;
  spec.runs.reserve(size_t(std::min<int64_t>(S.max_runs, 1 << 20)));

  auto run_name = [](const RunConfig& r) {
    // The run's distinguishing values, so the user can find it in the grid.
    return std::string(to_string(r.model.arch)) + " d_model=" + std::to_string(r.model.d_model) +
           " heads=" + std::to_string(r.model.heads) +
           " context=" + std::to_string(r.model.context) + " lr=" + fmt_number(r.train.lr);
  };
  auto report = [&](Issues& local, const RunConfig& r) {
    for (auto& i : local) {
      i.reason += " (in run " + run_name(r) + ")";
      if (seen_issue.insert(i.to_string()).second) issues.push_back(i);
    }
  };
  // A budget buys `windows` training windows. Checked: not finite or beyond the schema's limits
  // (it would overflow the step counts), or less than one step's window, is an error naming the
  // run, never a run of negative or rounded-up length labelled with that budget.
  auto set_windows = [&](RunConfig& r, double windows, const std::string& label,
                         Issues& local) -> bool {
    const bool paper = r.train.protocol == Protocol::paper;
    const double per_epoch = paper ? windows / r.train.epochs : windows;
    if (!std::isfinite(windows) || std::ceil(per_epoch) > double(kMaxCount) ||
        (!paper &&
         std::ceil(windows) * targets_per_window(r.model, r.train.protocol) > double(kMaxCount))) {
      local.push_back({path, 0, 0, "budget",
                       label + " buys " + fmt_number(windows) +
                           " training windows, beyond what a run can train (at most 2^50 " +
                           (paper ? "windows per epoch" : "tokens") + ")"});
      return false;
    }
    if (!(per_epoch >= 1)) {
      local.push_back(
          {path, 0, 0, "budget",
           label + " buys " + fmt_number(windows) + " training windows, less than " +
               (paper ? "one per epoch (train.epochs = " + std::to_string(r.train.epochs) + ")"
                      : std::string("one")) +
               ": too small for a training step"});
      return false;
    }
    if (paper)
      r.train.windows_per_epoch = int64_t(std::ceil(per_epoch));
    else
      r.train.tokens = int64_t(std::ceil(windows)) * targets_per_window(r.model, r.train.protocol);
    return true;
  };

  std::vector<RunConfig> variants;
  auto visit = [&]() {
    // Exclusions.
    if (!excludes.empty()) {
      const auto j = config_to_json(c);
      for (auto& rule : excludes) {
        bool all = !rule.empty();
        for (auto& [f, vals] : rule) {
          const auto dot = f.find('.');
          if (!vals.count(j[f.substr(0, dot)][f.substr(dot + 1)].dump())) {
            all = false;
            break;
          }
        }
        if (all) return;
      }
    }
    if (c.data.path.empty()) {
      const SpecIssue missing{path, 0, 0, "data.path",
                              "no corpus given: set data.path in [defaults] (or in each "
                              "[[subgrid]] set / [[include]])"};
      if (seen_issue.insert(missing.to_string()).second) issues.push_back(missing);
      return;
    }
    // Its corpus, loaded once (checks it exists and is usable, gives budget sizes).
    const std::string key = data_key(c.data);
    auto found = spec.corpora.find(key);
    if (found == spec.corpora.end()) {
      try {
        Corpus corpus = load_corpus(c.data, spec.base_dir);
        found =
            spec.corpora
                .emplace(key, CorpusInfo{corpus.vocab.size(), int64_t(corpus.train.size()),
                                         int64_t(corpus.valid.size()), int64_t(corpus.test.size())})
                .first;
      } catch (const std::exception& e) {
        std::string reason = e.what();  // corpus errors start with the key: not twice
        for (const char* p : {"data.path: ", "data.path "})
          if (reason.rfind(p, 0) == 0) reason.erase(0, std::strlen(p));
        issues.push_back({path, 0, 0, "data.path", reason});
        failed_corpora.insert(key);
        found = spec.corpora.emplace(key, CorpusInfo{}).first;
      }
    }
    if (failed_corpora.count(key)) return;
    const CorpusInfo& ci = found->second;

    // Budgets.
    variants.clear();
    Issues local;
    RunConfig sized = c;
    sized.model.vocab = ci.vocab;
    if (mode == "fixed") {
      variants.push_back(c);
    } else if (mode == "tokens_per_param") {
      const double P = double(count_params(sized.model));
      for (double k : budget_values) {
        RunConfig v = c;
        std::ostringstream label;
        label << "tokens_per_param=" << k;
        // tokens = window tokens (windows x T) under paper, predicted tokens under causal
        const double windows = v.train.protocol == Protocol::paper
                                   ? k * P / v.model.context
                                   : k * P / targets_per_window(v.model, v.train.protocol);
        if (!set_windows(v, windows, label.str(), local)) continue;
        v.train.budget = label.str();
        variants.push_back(v);
      }
    } else if (mode == "iso_flops") {
      const RunCost one = run_cost(sized, ci);
      const double per_window =
          one.flops(iso_convention) / double(std::max<int64_t>(1, one.windows));
      for (double F : budget_values) {
        RunConfig v = c;
        std::ostringstream label;
        label << "iso_flops=" << F << "(" << to_string(iso_convention) << ")";
        if (!set_windows(v, F / per_window, label.str(), local)) continue;
        v.train.budget = label.str();
        variants.push_back(v);
      }
    } else {  // scaled_epochs
      RunConfig ref = c;
      for (auto& [f, n] : reference) apply_field(ref, f, *n, path, ignore);
      ref.model.vocab = ci.vocab;
      const double ratio = double(count_params(sized.model)) / double(count_params(ref.model));
      RunConfig v = c;
      std::ostringstream label;
      label << "scaled_epochs(x" << std::setprecision(3) << ratio << ")";
      const bool by_epochs = v.train.protocol == Protocol::paper || v.train.tokens == 0;
      const double scaled = by_epochs ? std::round(v.train.epochs * ratio)
                                      : std::round(double(v.train.tokens) * ratio);
      const double limit = by_epochs ? double(1 << 20) : double(kMaxCount);
      if (!std::isfinite(scaled) || scaled > limit) {
        local.push_back({path, 0, 0, "budget",
                         label.str() + " gives " + fmt_number(scaled) +
                             (by_epochs ? " epochs, more than 2^20" : " tokens, more than 2^50")});
      } else {
        if (by_epochs)
          v.train.epochs = std::max(1, int(scaled));
        else
          v.train.tokens = std::max<int64_t>(1, int64_t(scaled));
        v.train.budget = label.str();
        variants.push_back(v);
      }
    }
    // Per-run validation, then de-duplication by run id.
    for (auto& v : variants) {
      v.train.threads = S.threads_per_rank;
      Issues checks;
      validate_config(v, path, checks);
      if (v.model.context + 2 > std::min({ci.train, ci.valid, ci.test}))
        checks.push_back(
            {path, 0, 0, "model.context",
             std::to_string(v.model.context) + " is longer than a split of " + v.data.path});
      if (!checks.empty()) {
        report(checks, v);
        continue;
      }
      spec.runs.push_back(v);  // de-duplicated below, once every run id is known
    }
    report(local, c);
  };

  for (auto& sg : subgrids) {
    std::vector<Axis> axes = shared;
    axes.insert(axes.end(), sg.axes.begin(), sg.axes.end());
    std::vector<size_t> idx(axes.size(), 0);  // an odometer over the axes, last one fastest
    for (bool done = false; !done;) {
      c = defaults;
      for (auto& [f, n] : sg.set) writer.apply(f, *n, path, ignore);
      for (size_t a = 0; a < axes.size(); ++a)
        writer.apply(axes[a].field, *axes[a].values[idx[a]], path, ignore);
      visit();
      done = true;
      for (size_t a = axes.size(); a-- > 0;) {
        if (++idx[a] < axes[a].values.size()) {
          done = false;
          break;
        }
        idx[a] = 0;
      }
    }
  }
  if (auto* arr = root["include"].as_array()) {
    for (auto& e : *arr) {
      const toml::table* t = e.as_table();
      if (!t) continue;
      std::vector<std::pair<std::string, const toml::node*>> fields;
      flatten(*t, "", fields);
      c = defaults;
      for (auto& [f, n] : fields) writer.apply(f, *n, path, issues);
      visit();
    }
  }
  if (!issues.empty()) throw SpecError(issues);

  // Run ids: hashing a run's canonical JSON is most of the cost of a large grid, and each id is
  // independent, so they are computed on a few threads; then duplicates are dropped in order.
  spec.ids.resize(spec.runs.size());
  const int threads = std::max(1, std::min(8, omp_get_max_threads()));
#pragma omp parallel for num_threads(threads) schedule(static) if (spec.runs.size() > 10000)
  for (int64_t i = 0; i < int64_t(spec.runs.size()); ++i)
    spec.ids[size_t(i)] = run_id(spec.runs[size_t(i)]);
  std::unordered_set<std::string> seen_id;
  seen_id.reserve(spec.runs.size());
  size_t kept = 0;
  for (size_t i = 0; i < spec.runs.size(); ++i) {
    if (!seen_id.insert(spec.ids[i]).second) continue;
    if (kept != i) {
      spec.runs[kept] = std::move(spec.runs[i]);
      spec.ids[kept] = std::move(spec.ids[i]);
    }
    ++kept;
  }
  spec.runs.resize(kept);
  spec.ids.resize(kept);
  if (spec.runs.empty()) throw SpecError({{path, 0, 0, "grid", "the grid expands to no runs"}});
  return spec;
}

}  // namespace tinyfront
