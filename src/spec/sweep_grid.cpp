// Reading a sweep spec's sections (sweep_grid.hpp): every value checked, every issue collected
// with its line and column; no file is read here but the spec itself.
#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "sweep_grid.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/run/fields.hpp"
#include "tinyfront/spec/job_spec.hpp"
#include "tinyfront/spec/toml_fields.hpp"
#include "tinyfront/util/auto_threads.hpp"
#include "tinyfront/util/utf8.hpp"

namespace tinyfront {

std::string fmt_number(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", x);
  return buf;
}

SpecIssue issue_at(const std::string& file, const toml::node& n, const std::string& key,
                   const std::string& reason) {
  auto s = n.source();
  return {file, int(s.begin.line), int(s.begin.column), key, reason};
}

// Flattens nested TOML tables into (dotted name, node) pairs, stopping at known fields, so that
// `model.hidden = [..]` is one field even though its value is an array.
void flatten(const toml::table& t, const std::string& prefix, TomlFields& out) {
  for (auto&& [k, v] : t) {
    std::string name = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    if (v.is_table() && !is_known_field(name))
      flatten(*v.as_table(), name, out);
    else
      out.emplace_back(name, &v);
  }
}

namespace {

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

// The reader: the grid being filled, and the issues found so far.
struct GridReader {
  SweepGrid& g;
  const std::vector<std::string>& overrides;
  Issues issues;
  const std::string& path = g.path;
  toml::table& root = g.root;
  SweepSettings& S = g.settings;
  RunConfig& defaults = g.defaults;
  std::vector<Axis>& shared = g.shared;
  std::vector<Subgrid>& subgrids = g.subgrids;
  std::vector<ExcludeRule>& excludes = g.excludes;

  // Every section is known and of the right shape.
  void check_sections() {
    const std::set<std::string> sections = {"sweep",   "defaults", "grid",  "subgrid",
                                            "exclude", "include",  "budget"};
    for (auto&& [k, v] : root)
      if (!sections.count(std::string(k.str())))
        issues.push_back(
            issue_at(path, v, std::string(k.str()),
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
        issues.push_back(issue_at(path, *n, name, "expected a table [" + std::string(name) + "]"));
    for (const char* name : {"subgrid", "exclude", "include"}) {
      const toml::node* n = root.get(name);
      if (!n) continue;
      const std::string want = "expected [[" + std::string(name) + "]] tables (an array of tables)";
      if (n->is_table())
        issues.push_back(
            issue_at(path, *n, name,
                     want + ", got a single table: write [[" + name + "]], not [" + name + "]"));
      else if (!n->is_array_of_tables())
        issues.push_back(issue_at(path, *n, name, want + ", got " + node_kind(*n)));
    }
  }

  // [sweep]
  void read_sweep_key(const std::string& key, const toml::node& v) {
    const std::string name = "sweep." + key;
    auto num = [&](double& out, double lo) {
      if (!v.is_number()) return issues.push_back(issue_at(path, v, name, "expected a number"));
      double x = v.is_integer() ? double(*v.value<int64_t>()) : *v.value<double>();
      if (!(x >= lo) || !std::isfinite(x))
        return issues.push_back(
            issue_at(path, v, name,
                     "must be a finite number >= " + fmt_number(lo) + ", got " + fmt_number(x)));
      out = x;
    };
    // A whole number in [lo, hi]: 1.5 threads or 1e12 threads is a mistake, not 1 or INT_MIN.
    auto whole = [&](int64_t& out, int64_t lo, int64_t hi) {
      if (!v.is_number()) return issues.push_back(issue_at(path, v, name, "expected an integer"));
      const double x = v.is_integer() ? double(*v.value<int64_t>()) : *v.value<double>();
      if (!(x >= double(lo) && x <= double(hi)) || x != std::floor(x))
        return issues.push_back(issue_at(path, v, name,
                                         "expected an integer in [" + std::to_string(lo) + ", " +
                                             std::to_string(hi) + "], got " + fmt_number(x)));
      out = v.is_integer() ? *v.value<int64_t>() : int64_t(x);
    };
    if (key == "name") {
      if (!v.is_string()) return issues.push_back(issue_at(path, v, name, "expected a string"));
      S.name = *v.value<std::string>();
    } else if (key == "threads_per_rank") {
      // "auto": each rank picks its own count where it runs (util/auto_threads.hpp).
      if (v.is_string()) {
        if (*v.value<std::string>() != "auto")
          return issues.push_back(issue_at(path, v, name, "expected an integer or \"auto\""));
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
        issues.push_back(issue_at(path, v, name, "expected " + enum_choices<FlopConvention>()));
    } else {
      issues.push_back(issue_at(path, v, name, "unknown key"));
    }
  }

  void read_settings() {
    if (auto* t = root["sweep"].as_table())
      for (auto&& [k, v] : *t) read_sweep_key(std::string(k.str()), v);
  }

  // [defaults], then the command-line overrides: sweep.* or a defaults field.
  void read_defaults() {
    // [defaults]
    // No default corpus: a spec that names none is a mistake, not a request for Tiny Shakespeare.
    defaults.data.path.clear();
    if (auto* t = root["defaults"].as_table()) {
      TomlFields fields;
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
  }

  // Axes: the shared grid, then each subgrid's fixed settings and axes.
  void read_axes(const toml::table& t, std::vector<Axis>& axes) {
    TomlFields fields;
    flatten(t, "", fields);
    for (auto& [f, n] : fields) {
      Axis a{f, axis_values(f, *n)};
      if (a.values.empty()) {
        issues.push_back(issue_at(path, *n, f, "an axis needs at least one value"));
        continue;
      }
      RunConfig scratch = defaults;
      for (auto* v : a.values) apply_field(scratch, f, *v, path, issues);  // type/range checks
      axes.push_back(a);
    }
  }

  void read_grid() {
    if (auto* t = root["grid"].as_table()) read_axes(*t, shared);

    if (auto* arr = root["subgrid"].as_array()) {
      for (auto& e : *arr) {
        const toml::table* t = e.as_table();
        if (!t) {
          issues.push_back(issue_at(path, e, "subgrid", "expected [[subgrid]] tables"));
          continue;
        }
        Subgrid sg;
        for (auto&& [k, v] : *t) {
          std::string key(k.str());
          if (key == "name") {
            if (!v.is_string())
              issues.push_back(
                  issue_at(path, v, "subgrid.name", "expected a string, got " + node_kind(v)));
            sg.name = v.value_or(std::string());
          } else if ((key == "set" || key == "grid") && !v.is_table()) {
            issues.push_back(
                issue_at(path, v, "subgrid." + key,
                         "expected a table (" + key + ".<field> = ...), got " + node_kind(v)));
          } else if (key == "set") {
            flatten(*v.as_table(), "", sg.set);
            RunConfig scratch = defaults;
            for (auto& [f, n] : sg.set) apply_field(scratch, f, *n, path, issues);
          } else if (key == "grid")
            read_axes(*v.as_table(), sg.axes);
          else
            issues.push_back(issue_at(path, v, "subgrid." + key,
                                      "unknown key (expected name, set.<field>, grid.<field>)"));
        }
        subgrids.push_back(sg);
      }
    }
    if (subgrids.empty()) subgrids.push_back({});
  }

  // Exclusion rules: field -> accepted JSON values.
  void read_excludes() {
    if (auto* arr = root["exclude"].as_array()) {
      for (auto& e : *arr) {
        const toml::table* t = e.as_table();
        if (!t) continue;  // refused above
        TomlFields fields;
        flatten(*t, "", fields);
        if (fields.empty())
          issues.push_back(
              issue_at(path, e, "exclude", "an exclude rule needs at least one field"));
        std::vector<std::pair<std::string, std::set<std::string>>> rule;
        for (auto& [f, n] : fields) {
          if (!is_known_field(f)) {
            issues.push_back(issue_at(path, *n, "exclude." + f, "unknown field"));
            continue;
          }
          std::set<std::string> vals;
          for (auto* v : axis_values(f, *n)) vals.insert(node_json(f, *v, path, issues));
          rule.emplace_back(f, vals);
        }
        excludes.push_back(rule);
      }
    }
  }

  // The values of budget.<key>: positive finite numbers.
  std::vector<double> budget_numbers(const std::string& key, const toml::node& n) {
    std::vector<double> out;
    auto push = [&](const toml::node& x) {
      const double d = !x.is_number()   ? NAN
                       : x.is_integer() ? double(*x.value<int64_t>())
                                        : *x.value<double>();
      // nan and inf are TOML numbers too; neither buys a definite number of steps.
      if (!(d > 0) || !std::isfinite(d))
        issues.push_back(
            issue_at(path, x, "budget." + key,
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
  }

  // [budget]
  void read_budget() {
    std::string mode = "fixed";
    const toml::node* mode_node = nullptr;
    std::map<std::string, std::pair<const toml::node*, std::vector<double>>> budget_axes;
    FlopConvention iso_convention = FlopConvention::study;
    TomlFields reference;
    const toml::table* budget_table = root["budget"].as_table();
    if (budget_table) {
      for (auto&& [k, v] : *budget_table) {
        std::string key(k.str());
        if (key == "mode") {
          mode_node = &v;
          mode = v.value<std::string>().value_or("");
          BudgetMode parsed;
          if (!parse_enum(mode, parsed))
            issues.push_back(
                issue_at(path, v, "budget.mode", "expected " + enum_choices<BudgetMode>()));
        } else if (key == "tokens_per_param" || key == "iso_flops") {
          budget_axes[key] = {&v, budget_numbers(key, v)};
        } else if (key == "convention") {
          if (!parse_enum(v.value<std::string>().value_or(""), iso_convention))
            issues.push_back(issue_at(path, v, "budget.convention",
                                      "expected " + enum_choices<FlopConvention>()));
        } else if (key == "reference" && !v.is_table()) {
          issues.push_back(
              issue_at(path, v, "budget.reference",
                       "expected a table (reference.<field> = value), got " + node_kind(v)));
        } else if (key == "reference") {
          flatten(*v.as_table(), "", reference);
          RunConfig scratch;
          for (auto& [f, n] : reference) apply_field(scratch, f, *n, path, issues);
        } else {
          issues.push_back(issue_at(path, v, "budget." + key, "unknown key"));
        }
      }
      // Budget values are used only by their own mode; values the mode ignores would silently
      // give runs another budget than the one written.
      for (auto& [key, given] : budget_axes)
        if (key != mode)
          issues.push_back(issue_at(path, *given.first, "budget." + key,
                                    "not used by budget.mode = \"" + mode + "\"" +
                                        (mode_node ? "" : " (the default: no mode given)") +
                                        "; set budget.mode = \"" + key + "\" to use it"));
      if ((mode == "tokens_per_param" || mode == "iso_flops") && !budget_axes.count(mode))
        issues.push_back(issue_at(path, *budget_table, "budget." + mode,
                                  "give at least one value for this mode"));
      if (mode == "scaled_epochs" && reference.empty())
        issues.push_back(
            issue_at(path, *budget_table, "budget.reference",
                     "scaled_epochs needs reference.<field> = value (the reference model)"));
    }
    const std::vector<double> budget_values =
        budget_axes.count(mode) ? budget_axes[mode].second : std::vector<double>();
    parse_enum(mode, g.budget.mode);  // refused above if it is none
    g.budget.values = budget_values;
    g.budget.iso_convention = iso_convention;
    g.budget.reference = reference;
  }

  // Count the grid before expanding it.
  void check_size() {
    const std::vector<double>& budget_values = g.budget.values;
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
        throw SpecError({where ? issue_at(path, *where, "grid", reason)
                               : SpecIssue{path, 0, 0, "grid", reason}});
      }
    }
  }
};

}  // namespace

void read_sweep_grid(SweepGrid& grid, const std::vector<std::string>& overrides) {
  GridReader r{grid, overrides, {}};
  r.check_sections();
  r.read_settings();
  r.read_defaults();
  r.read_grid();
  r.read_excludes();
  r.read_budget();
  if (!r.issues.empty()) throw SpecError(r.issues);
  r.check_size();
}

}  // namespace tinyfront
