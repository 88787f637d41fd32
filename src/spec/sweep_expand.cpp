// Expanding a sweep grid (sweep_grid.hpp) into runs: each point built in one reused config,
// filtered by the exclusions, given its budgets, checked and kept.
#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "sweep_grid.hpp"
#include "tinyfront/model/model.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/spec/toml_fields.hpp"

namespace tinyfront {

namespace {

constexpr int64_t kMaxCount = int64_t(1) << 50;  // spec.cpp's limit on train.tokens/windows

// The run's distinguishing values, so the user can find it in the grid.
std::string run_name(const RunConfig& r) {
  // The run's distinguishing values, so the user can find it in the grid.
  return std::string(to_string(r.model.arch)) + " d_model=" + std::to_string(r.model.d_model) +
         " heads=" + std::to_string(r.model.heads) + " context=" + std::to_string(r.model.context) +
         " lr=" + fmt_number(r.train.lr);
}

struct Expander {
  const SweepGrid& g;
  const CorpusLookup& corpus;
  SweepSpec& spec;
  Issues& issues;
  const std::string& path = g.path;
  const SweepSettings& S = g.settings;
  const BudgetMode mode = g.budget.mode;
  const std::vector<double>& budget_values = g.budget.values;
  const FlopConvention& iso_convention = g.budget.iso_convention;
  const TomlFields& reference = g.budget.reference;
  RunConfig c{};  // the point being built; `writer` is bound to it
  FieldWriter writer{c};
  Issues ignore{};  // values were checked when the grid was read
  std::set<std::string> seen_issue{};
  std::vector<RunConfig> variants{};  // the point with each of its budgets

  void report(Issues& local, const RunConfig& r) {
    for (auto& i : local) {
      i.reason += " (in run " + run_name(r) + ")";
      if (seen_issue.insert(i.to_string()).second) issues.push_back(i);
    }
  }

  // A budget buys `windows` training windows. Checked: not finite or beyond the schema's limits
  // (it would overflow the step counts), or less than one step's window, is an error naming the
  // run, never a run of negative or rounded-up length labelled with that budget.
  bool set_windows(RunConfig& r, double windows, const std::string& label, Issues& local) {
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
  }

  bool excluded() const {
    if (!g.excludes.empty()) {
      const auto j = config_to_json(c);
      for (auto& rule : g.excludes) {
        bool all = !rule.empty();
        for (auto& [f, vals] : rule) {
          const auto dot = f.find('.');
          if (!vals.count(j[f.substr(0, dot)][f.substr(dot + 1)].dump())) {
            all = false;
            break;
          }
        }
        if (all) return true;
      }
    }
    return false;
  }

  // The point `c` with each budget of the mode (sized with its corpus).
  void budget_variants(const CorpusInfo& ci, Issues& local) {
    RunConfig sized = c;
    sized.model.vocab = ci.vocab;
    if (mode == BudgetMode::fixed) {
      variants.push_back(c);
    } else if (mode == BudgetMode::tokens_per_param) {
      const double P = double(count_params(sized.model));
      for (double k : budget_values) {
        RunConfig v = c;
        const std::string label = to_label({BudgetMode::tokens_per_param, k});
        // tokens = window tokens (windows x T) under paper, predicted tokens under causal
        const double windows = v.train.protocol == Protocol::paper
                                   ? k * P / v.model.context
                                   : k * P / targets_per_window(v.model, v.train.protocol);
        if (!set_windows(v, windows, label, local)) continue;
        v.train.budget = label;
        variants.push_back(v);
      }
    } else if (mode == BudgetMode::iso_flops) {
      const PlannedCost one = planned_cost(sized, ci);
      const double per_window =
          one.flops(iso_convention) / double(std::max<int64_t>(1, one.windows));
      for (double F : budget_values) {
        RunConfig v = c;
        const std::string label = to_label({BudgetMode::iso_flops, F, iso_convention});
        if (!set_windows(v, F / per_window, label, local)) continue;
        v.train.budget = label;
        variants.push_back(v);
      }
    } else {  // scaled_epochs
      RunConfig ref = c;
      for (auto& [f, n] : reference) apply_field(ref, f, *n, path, ignore);
      ref.model.vocab = ci.vocab;
      const double ratio = double(count_params(sized.model)) / double(count_params(ref.model));
      RunConfig v = c;
      const std::string label = to_label({BudgetMode::scaled_epochs, ratio});
      const bool by_epochs = v.train.protocol == Protocol::paper || v.train.tokens == 0;
      const double scaled = by_epochs ? std::round(v.train.epochs * ratio)
                                      : std::round(double(v.train.tokens) * ratio);
      const double limit = by_epochs ? double(1 << 20) : double(kMaxCount);
      if (!std::isfinite(scaled) || scaled > limit) {
        local.push_back({path, 0, 0, "budget",
                         label + " gives " + fmt_number(scaled) +
                             (by_epochs ? " epochs, more than 2^20" : " tokens, more than 2^50")});
      } else {
        if (by_epochs)
          v.train.epochs = std::max(1, int(scaled));
        else
          v.train.tokens = std::max<int64_t>(1, int64_t(scaled));
        v.train.budget = label;
        variants.push_back(v);
      }
    }
  }

  // Per-run validation; de-duplication by run id comes once every run id is known.
  void keep(const CorpusInfo& ci) {
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
  }

  void visit() {
    if (excluded()) return;
    if (c.data.path.empty()) {
      const SpecIssue missing{path, 0, 0, "data.path",
                              "no corpus given: set data.path in [defaults] (or in each "
                              "[[subgrid]] set / [[include]])"};
      if (seen_issue.insert(missing.to_string()).second) issues.push_back(missing);
      return;
    }
    const CorpusInfo* ci = corpus(c.data);  // checks it exists and is usable, gives sizes
    if (!ci) return;
    variants.clear();
    Issues local;
    budget_variants(*ci, local);
    keep(*ci);
    report(local, c);
  }

  void expand() {
    for (auto& sg : g.subgrids) {
      std::vector<Axis> axes = g.shared;
      axes.insert(axes.end(), sg.axes.begin(), sg.axes.end());
      std::vector<size_t> idx(axes.size(), 0);  // an odometer over the axes, last one fastest
      for (bool done = false; !done;) {
        c = g.defaults;
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
    if (auto* arr = g.root["include"].as_array()) {
      for (auto& e : *arr) {
        const toml::table* t = e.as_table();
        if (!t) continue;
        TomlFields fields;
        flatten(*t, "", fields);
        c = g.defaults;
        for (auto& [f, n] : fields) writer.apply(f, *n, path, issues);
        visit();
      }
    }
  }
};

}  // namespace

void expand_sweep_grid(const SweepGrid& grid, const CorpusLookup& corpus, SweepSpec& spec,
                       Issues& issues) {
  Expander e{grid, corpus, spec, issues};
  spec.runs.reserve(size_t(std::min<int64_t>(grid.settings.max_runs, 1 << 20)));
  e.expand();
}

}  // namespace tinyfront
