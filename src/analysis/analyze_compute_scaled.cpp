// analyze_runs' compute-scaled check: deeper vs shallower models at matched budget rules.
#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <unordered_map>

#include "tinyfront/analysis/analysis.hpp"
#include "tinyfront/analysis/frontier.hpp"
#include "tinyfront/analysis/grouping.hpp"

#include "analysis_table.hpp"

namespace tinyfront::analysis_table {

// ---------------------------------------------------------------------------------------------
// Compute-scaled check: deeper vs shallower attention-family models at matched budget rules.

void build_compute_scaled(const Table& t, AnalysisReport& rep) {
  const GroupingColumns& g = t.g;
  std::vector<size_t> rows;
  for (size_t r = 0; r < t.rows(); ++r)
    if (Arch(t.arch_of[r]) == Arch::attention || Arch(t.arch_of[r]) == Arch::transformer)
      rows.push_back(r);
  std::vector<char> use(g.names.size(), 1);
  for (const char* name : {"model.layers", "model.arch", "train.seed", "train.threads"})
    if (int f = g.field(name); f >= 0) use[f] = 0;
  int64_t n_groups = 0;
  const std::vector<int64_t> group = group_rows(g, use, rows, n_groups);
  // Per (group, layers) statistics.
  std::vector<size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  auto layers_of = [&](size_t k) { return rep.runs[rows[k]].layers; };
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    if (group[x] != group[y]) return group[x] < group[y];
    return layers_of(x) < layers_of(y);
  });
  const int f_budget = g.field("train.budget");
  // Groups are described by the fields that vary among the attention-family runs of their slice.
  std::vector<int> not_described{f_budget};
  for (size_t f = 0; f < g.names.size(); ++f)
    if (!use[f]) not_described.push_back(int(f));
  std::map<int, std::vector<size_t>> slice_rows;
  for (size_t r : rows) slice_rows[t.slice_of[r]].push_back(r);
  std::map<int, std::vector<int>> describe_fields;
  for (auto& [slice, members] : slice_rows)
    describe_fields[slice] = varying_within(g, members, not_described);
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    std::vector<ComputeScaledRow> depth_rows;
    while (j < order.size() && group[order[j]] == group[order[i]]) {
      size_t k = j;
      Stats st;
      double params = 0, tokens = 0, flops = 0;
      while (k < order.size() && group[order[k]] == group[order[j]] &&
             layers_of(order[k]) == layers_of(order[j])) {
        const RunRow& r = rep.runs[rows[order[k]]];
        st.add(r.test_nll);
        params += double(r.params), tokens += double(r.train_tokens), flops += r.flops[2];
        ++k;
      }
      const size_t row = rows[order[j]];
      ComputeScaledRow c;
      c.dataset = rep.runs[row].dataset, c.protocol = rep.runs[row].protocol;
      c.budget = f_budget >= 0 ? g.value(f_budget, row) : "fixed";
      c.scaled = c.budget != "fixed";
      c.group = group[order[j]];
      c.layers = layers_of(order[j]);
      c.n = st.n, c.mean_nll = st.mean(), c.min_nll = st.min, c.max_nll = st.max;
      c.params = params / double(st.n), c.train_tokens = tokens / double(st.n);
      c.flops_exact = flops / double(st.n);
      depth_rows.push_back(c);
      j = k;
    }
    if (depth_rows.size() >= 2) {
      const size_t first = rows[order[i]];
      const std::string fixed = describe(g, first, describe_fields[t.slice_of[first]]);
      for (auto& c : depth_rows) {
        c.fixed = fixed;
        rep.compute_scaled.push_back(std::move(c));
      }
    }
    i = j;
  }

  // Verdicts per (slice, budget rule). Best seed-mean at each depth over the matched groups.
  struct DepthBest {
    double nll = INFINITY, spread = 0;
  };
  std::map<std::tuple<std::string, std::string, std::string>, std::map<int, DepthBest>> best;
  std::map<std::tuple<std::string, std::string, std::string>,
           std::map<int64_t, std::map<int, double>>>
      by_group;
  for (const auto& c : rep.compute_scaled) {
    auto key = std::make_tuple(c.dataset, c.protocol, c.budget);
    auto& b = best[key][c.layers];
    if (c.mean_nll < b.nll) b.nll = c.mean_nll, b.spread = c.max_nll - c.min_nll;
    by_group[key][c.group][c.layers] = c.mean_nll;
  }
  bool any_scaled = false;
  for (auto& [key, depths] : best) {
    const auto& [dataset, protocol, budget] = key;
    if (budget == "fixed") continue;
    any_scaled = true;
    ComputeScaledVerdict v;
    v.dataset = dataset, v.protocol = protocol, v.budget = budget;
    v.deep_layers = depths.rbegin()->first;
    v.deep_nll = depths.rbegin()->second.nll;
    v.shallow_nll = INFINITY;
    for (auto& [L, b] : depths)
      if (L < v.deep_layers && b.nll < v.shallow_nll) v.shallow_layers = L, v.shallow_nll = b.nll;
    v.seed_spread = std::max(depths[v.deep_layers].spread, depths[v.shallow_layers].spread);
    for (auto& [grp, per_depth] : by_group[key]) {
      auto d = per_depth.find(v.deep_layers), s = per_depth.find(v.shallow_layers);
      if (d == per_depth.end() || s == per_depth.end()) continue;
      ++v.groups_compared;
      v.groups_deeper_wins += d->second <= s->second;
    }
    v.recovers = v.deep_nll <= v.shallow_nll;
    std::ostringstream s;
    s << dataset << "/" << protocol << ", budget " << budget << ": L=" << v.deep_layers
      << (v.recovers ? " recovers: " : " does not recover: ") << fixed3(v.deep_nll) << " vs "
      << fixed3(v.shallow_nll) << " (best L=" << v.shallow_layers << ") test NLL, best seed-mean"
      << " over matched configs; deeper at least as good in " << v.groups_deeper_wins << " of "
      << v.groups_compared << " matched groups";
    if (v.seed_spread > 0) {
      s << "; seed spread up to " << fixed3(v.seed_spread);
      if (std::abs(v.deep_nll - v.shallow_nll) < v.seed_spread) s << " (the gap is within it)";
    }
    auto fixed_key = std::make_tuple(dataset, protocol, std::string("fixed"));
    if (auto it = best.find(fixed_key); it != best.end()) {
      auto d = it->second.find(v.deep_layers), sh = it->second.find(v.shallow_layers);
      if (d != it->second.end() && sh != it->second.end())
        s << "; under the fixed budget (best over its grid): L=" << v.deep_layers << " "
          << fixed3(d->second.nll) << " vs L=" << v.shallow_layers << " " << fixed3(sh->second.nll);
    }
    s << ".";
    v.sentence = s.str();
    rep.compute_verdicts.push_back(v);
  }
  if (!any_scaled)
    rep.compute_notes.push_back(
        "No attention-family runs with a scaled budget (train.budget != \"fixed\") at two or more "
        "depths in matched configurations: the compute-scaled check has nothing to compare.");
}

}  // namespace tinyfront::analysis_table
