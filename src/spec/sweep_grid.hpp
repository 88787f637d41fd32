// A sweep spec read but not expanded (private to the spec module): its settings, defaults, axes,
// sub-grids, exclusions and budget, as TOML nodes of the spec's tree. sweep_grid.cpp reads it
// (no file but the spec itself); sweep_expand.cpp expands it into runs, sizing budgets with the
// corpus sizes that load_sweep_spec (sweep_spec.cpp) reads.
#pragma once

#include <toml++/toml.h>

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tinyfront/run/budget_rule.hpp"
#include "tinyfront/spec/sweep_spec.hpp"

namespace tinyfront {

using Issues = std::vector<SpecIssue>;
using TomlFields = std::vector<std::pair<std::string, const toml::node*>>;  // dotted name, value

struct Axis {
  std::string field;
  std::vector<const toml::node*> values;
};

struct Subgrid {
  std::string name;
  TomlFields set;
  std::vector<Axis> axes;
};

// Drop a run whose fields all match: field -> accepted values (canonical JSON).
using ExcludeRule = std::vector<std::pair<std::string, std::set<std::string>>>;

struct BudgetSpec {
  BudgetMode mode = BudgetMode::fixed;
  std::vector<double> values;  // the mode's axis (tokens_per_param or iso_flops)
  FlopConvention iso_convention = FlopConvention::study;
  TomlFields reference;  // scaled_epochs: the reference model's fields
};

struct SweepGrid {
  std::string path;  // the spec file (for messages)
  toml::table root;  // the parsed spec: every node below points into it
  SweepSettings settings;
  RunConfig defaults;
  std::vector<Axis> shared;  // [grid]
  std::vector<Subgrid> subgrids;
  std::vector<ExcludeRule> excludes;
  BudgetSpec budget;
};

// Reads every section of `grid.root` (and the --set overrides). Throws SpecError listing every
// issue found; then refuses a grid larger than sweep.max_runs before it is expanded.
void read_sweep_grid(SweepGrid& grid, const std::vector<std::string>& overrides);

// The sizes of a data config's corpus, or nullptr when it cannot be loaded (the issue is then
// reported by the lookup, once per data config).
using CorpusLookup = std::function<const CorpusInfo*(const DataConfig&)>;

// Expands the grid into spec.runs (in spec order, not yet de-duplicated): each sub-grid crossed
// with the shared axes, then the includes; exclusions, budgets and per-run checks applied.
// Issues are appended to `issues`.
void expand_sweep_grid(const SweepGrid& grid, const CorpusLookup& corpus, SweepSpec& spec,
                       Issues& issues);

// Helpers shared by the two halves.
std::string fmt_number(double x);
SpecIssue issue_at(const std::string& file, const toml::node& n, const std::string& key,
                   const std::string& reason);
// Flattens nested TOML tables into (dotted name, node) pairs, stopping at known fields, so that
// `model.hidden = [..]` is one field even though its value is an array.
void flatten(const toml::table& t, const std::string& prefix, TomlFields& out);

}  // namespace tinyfront
