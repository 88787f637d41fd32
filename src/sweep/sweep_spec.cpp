#include "tinyfront/sweep/sweep_spec.hpp"

#include <toml++/toml.h>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <set>
#include <sstream>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/model/flops.hpp"
#include "tinyfront/model/model.hpp"
#include "tinyfront/train/spec.hpp"
#include "tinyfront/train/trainer.hpp"

namespace fs = std::filesystem;

namespace tinyfront {

const char* to_string(FlopConvention c) {
  switch (c) {
    case FlopConvention::study:
      return "study";
    case FlopConvention::kaplan:
      return "kaplan";
    case FlopConvention::exact:
      return "exact";
  }
  return "?";
}

bool parse_enum(const std::string& s, FlopConvention& out) {
  for (FlopConvention c : {FlopConvention::study, FlopConvention::kaplan, FlopConvention::exact})
    if (s == to_string(c)) {
      out = c;
      return true;
    }
  return false;
}

double RunCost::flops(FlopConvention c) const {
  return c == FlopConvention::study    ? flops_study
         : c == FlopConvention::kaplan ? flops_kaplan
                                       : flops_exact;
}

std::string data_key(const DataConfig& d) {
  RunConfig c;
  c.data = d;
  return config_to_json(c)["data"].dump();
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

bool in_shard(const std::string& id, int shard_index, int shard_count) {
  if (shard_count <= 1) return true;
  uint64_t h = std::stoull(id, nullptr, 16);
  return int(h % uint64_t(shard_count)) == shard_index;
}

namespace {

using Issues = std::vector<SpecIssue>;

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

std::string node_json(const std::string& field, const toml::node& n, const std::string& file) {
  RunConfig c;
  Issues ignore;
  apply_field(c, field, n, file, ignore);
  return field_json(c, field);
}

}  // namespace

SweepSpec load_sweep_spec(const std::string& path, const std::vector<std::string>& overrides) {
  SweepSpec spec;
  spec.path = path;
  spec.base_dir = fs::path(path).parent_path().string();
  if (!fs::exists(path)) throw SpecError({{path, 0, 0, "", "no such file"}});
  {
    std::ifstream in(path);
    std::ostringstream ss;
    ss << in.rdbuf();
    spec.text = ss.str();
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

  // [sweep]
  SweepSettings& S = spec.settings;
  auto read_sweep_key = [&](const std::string& key, const toml::node& v) {
    const std::string name = "sweep." + key;
    auto num = [&](double& out, double lo) {
      if (!v.is_number()) return issues.push_back(at(path, v, name, "expected a number"));
      double x = v.is_integer() ? double(*v.value<int64_t>()) : *v.value<double>();
      if (!(x >= lo))
        return issues.push_back(at(path, v, name, "must be >= " + std::to_string(lo)));
      out = x;
    };
    if (key == "name") {
      if (!v.is_string()) return issues.push_back(at(path, v, name, "expected a string"));
      S.name = *v.value<std::string>();
    } else if (key == "threads_per_rank") {
      double x = 1;
      num(x, 1);
      S.threads_per_rank = int(x);
    } else if (key == "max_total_flops")
      num(S.max_total_flops, 0);
    else if (key == "max_run_flops")
      num(S.max_run_flops, 0);
    else if (key == "max_hours")
      num(S.max_hours, 0);
    else if (key == "checkpoint_seconds")
      num(S.checkpoint_seconds, 0);
    else if (key == "checkpoint_steps") {
      double x = 0;
      num(x, 0);
      S.checkpoint_steps = int64_t(x);
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
      toml::table doc;
      try {
        doc = toml::parse("v = " + o.substr(eq + 1));
      } catch (const toml::parse_error&) {
        doc = toml::table{{"v", o.substr(eq + 1)}};
      }
      read_sweep_key(o.substr(6, eq - 6), *doc.get("v"));
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
        if (key == "name")
          sg.name = v.value<std::string>().value_or("");
        else if (key == "set" && v.is_table()) {
          flatten(*v.as_table(), "", sg.set);
          RunConfig scratch = defaults;
          for (auto& [f, n] : sg.set) apply_field(scratch, f, *n, path, issues);
        } else if (key == "grid" && v.is_table())
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
      if (!t) continue;
      std::vector<std::pair<std::string, const toml::node*>> fields;
      flatten(*t, "", fields);
      std::vector<std::pair<std::string, std::set<std::string>>> rule;
      for (auto& [f, n] : fields) {
        if (!is_known_field(f)) {
          issues.push_back(at(path, *n, "exclude." + f, "unknown field"));
          continue;
        }
        std::set<std::string> vals;
        for (auto* v : axis_values(f, *n)) vals.insert(node_json(f, *v, path));
        rule.emplace_back(f, vals);
      }
      excludes.push_back(rule);
    }
  }

  // [budget]
  std::string mode = "fixed";
  std::vector<double> budget_values;
  FlopConvention iso_convention = FlopConvention::study;
  std::vector<std::pair<std::string, const toml::node*>> reference;
  if (auto* t = root["budget"].as_table()) {
    for (auto&& [k, v] : *t) {
      std::string key(k.str());
      auto numbers = [&](const toml::node& n) {
        std::vector<double> out;
        auto push = [&](const toml::node& x) {
          if (!x.is_number() || (x.is_integer() ? *x.value<int64_t>() : *x.value<double>()) <= 0)
            issues.push_back(at(path, x, "budget." + key, "expected positive numbers"));
          else
            out.push_back(x.is_integer() ? double(*x.value<int64_t>()) : *x.value<double>());
        };
        if (auto* a = n.as_array())
          for (auto& x : *a) push(x);
        else
          push(n);
        return out;
      };
      if (key == "mode") {
        mode = v.value<std::string>().value_or("");
        if (mode != "fixed" && mode != "tokens_per_param" && mode != "iso_flops" &&
            mode != "scaled_epochs")
          issues.push_back(at(path, v, "budget.mode",
                              "expected fixed, tokens_per_param, iso_flops or scaled_epochs"));
      } else if (key == "tokens_per_param" || key == "iso_flops") {
        budget_values = numbers(v);
      } else if (key == "convention") {
        if (!parse_enum(v.value<std::string>().value_or(""), iso_convention))
          issues.push_back(at(path, v, "budget.convention", "expected study, kaplan or exact"));
      } else if (key == "reference" && v.is_table()) {
        flatten(*v.as_table(), "", reference);
        RunConfig scratch;
        for (auto& [f, n] : reference) apply_field(scratch, f, *n, path, issues);
      } else {
        issues.push_back(at(path, v, "budget." + key, "unknown key"));
      }
    }
    if ((mode == "tokens_per_param" || mode == "iso_flops") && budget_values.empty())
      issues.push_back(at(path, *t, "budget." + mode, "give at least one value for this mode"));
    if (mode == "scaled_epochs" && reference.empty())
      issues.push_back(at(path, *t, "budget.reference",
                          "scaled_epochs needs reference.<field> = value (the reference model)"));
  }
  if (!issues.empty()) throw SpecError(issues);

  // Expand: each subgrid x shared axes (cartesian product, first axis outermost).
  std::vector<RunConfig> points;
  for (auto& sg : subgrids) {
    std::vector<Axis> axes = shared;
    axes.insert(axes.end(), sg.axes.begin(), sg.axes.end());
    std::vector<size_t> idx(axes.size(), 0);  // an odometer over the axes, last one fastest
    for (bool done = false; !done;) {
      RunConfig c = defaults;
      Issues ignore;  // values were checked above
      for (auto& [f, n] : sg.set) apply_field(c, f, *n, path, ignore);
      for (size_t a = 0; a < axes.size(); ++a)
        apply_field(c, axes[a].field, *axes[a].values[idx[a]], path, ignore);
      points.push_back(c);
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
      RunConfig c = defaults;
      for (auto& [f, n] : fields) apply_field(c, f, *n, path, issues);
      points.push_back(c);
    }
  }
  // Exclusions.
  std::vector<RunConfig> kept;
  for (auto& c : points) {
    bool drop = false;
    for (auto& rule : excludes) {
      bool all = !rule.empty();
      for (auto& [f, vals] : rule)
        if (!vals.count(field_json(c, f))) all = false;
      if (all) drop = true;
    }
    if (!drop) kept.push_back(c);
  }

  // Corpora: load each distinct one once (checks it exists and is usable, gives budget sizes).
  for (auto& c : kept) {
    std::string key = data_key(c.data);
    if (spec.corpora.count(key)) continue;
    try {
      Corpus corpus = load_corpus(c.data, spec.base_dir);
      spec.corpora[key] = {corpus.vocab.size(), int64_t(corpus.train.size()),
                           int64_t(corpus.valid.size()), int64_t(corpus.test.size())};
    } catch (const std::exception& e) {
      issues.push_back({path, 0, 0, "data.path", e.what()});
      spec.corpora[key] = {};
    }
  }
  if (!issues.empty()) throw SpecError(issues);

  // Budgets, then per-run validation, then de-duplication by run id.
  std::set<std::string> seen_issue, seen_id;
  for (auto& c0 : kept) {
    const CorpusInfo& ci = spec.corpora[data_key(c0.data)];
    std::vector<RunConfig> variants;
    auto set_windows = [&](RunConfig& c, double windows) {
      windows = std::max(1.0, std::ceil(windows));
      if (c.train.protocol == Protocol::paper)
        c.train.windows_per_epoch = int64_t(std::ceil(windows / c.train.epochs));
      else
        c.train.tokens = int64_t(windows) * targets_per_window(c.model, c.train.protocol);
    };
    RunConfig sized = c0;
    sized.model.vocab = ci.vocab;
    if (mode == "fixed") {
      variants.push_back(c0);
    } else if (mode == "tokens_per_param") {
      for (double k : budget_values) {
        RunConfig c = c0;
        double P = double(count_params(sized.model));
        // tokens = window tokens (windows x T) under paper, predicted tokens under causal
        double windows = c.train.protocol == Protocol::paper
                             ? k * P / c.model.context
                             : k * P / targets_per_window(c.model, c.train.protocol);
        set_windows(c, windows);
        std::ostringstream label;
        label << "tokens_per_param=" << k;
        c.train.budget = label.str();
        variants.push_back(c);
      }
    } else if (mode == "iso_flops") {
      for (double F : budget_values) {
        RunConfig c = c0;
        RunCost one = run_cost(sized, ci);
        double per_window = one.flops(iso_convention) / double(std::max<int64_t>(1, one.windows));
        set_windows(c, F / per_window);
        std::ostringstream label;
        label << "iso_flops=" << F << "(" << to_string(iso_convention) << ")";
        c.train.budget = label.str();
        variants.push_back(c);
      }
    } else {  // scaled_epochs
      RunConfig ref = c0;
      Issues ignore;
      for (auto& [f, n] : reference) apply_field(ref, f, *n, path, ignore);
      ref.model.vocab = ci.vocab;
      double ratio = double(count_params(sized.model)) / double(count_params(ref.model));
      RunConfig c = c0;
      if (c.train.protocol == Protocol::paper || c.train.tokens == 0)
        c.train.epochs = std::max(1, int(std::lround(c.train.epochs * ratio)));
      else
        c.train.tokens = int64_t(std::llround(double(c.train.tokens) * ratio));
      std::ostringstream label;
      label << "scaled_epochs(x" << std::setprecision(3) << ratio << ")";
      c.train.budget = label.str();
      variants.push_back(c);
    }
    for (auto& c : variants) {
      c.train.threads = spec.settings.threads_per_rank;
      Issues local;
      validate_config(c, path, local);
      if (c.model.context + 2 > std::min({ci.train, ci.valid, ci.test}))
        local.push_back(
            {path, 0, 0, "model.context",
             std::to_string(c.model.context) + " is longer than a split of " + c.data.path});
      for (auto& i : local) {
        // Name the run's distinguishing values so the user can find it in the grid.
        i.reason += " (in run " + std::string(to_string(c.model.arch)) +
                    " d_model=" + std::to_string(c.model.d_model) +
                    " heads=" + std::to_string(c.model.heads) +
                    " context=" + std::to_string(c.model.context) + ")";
        if (seen_issue.insert(i.to_string()).second) issues.push_back(i);
      }
      if (local.empty() && seen_id.insert(run_id(c)).second) spec.runs.push_back(c);
    }
  }
  if (!issues.empty()) throw SpecError(issues);
  if (spec.runs.empty()) throw SpecError({{path, 0, 0, "grid", "the grid expands to no runs"}});
  return spec;
}

}  // namespace tinyfront
