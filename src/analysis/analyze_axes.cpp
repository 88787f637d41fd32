// analyze_runs' axis effects: what changing one field does, seeds pooled.
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
// Axis effects: group runs equal in every field but the axis and the seed.

// Order of an axis' values: numeric when all are numbers, else as strings.
std::vector<int> value_order(const std::vector<std::string>& values) {
  std::vector<double> num(values.size());
  bool numeric = true;
  for (size_t i = 0; i < values.size() && numeric; ++i) {
    const char* b = values[i].data();
    auto r = std::from_chars(b, b + values[i].size(), num[i]);
    numeric = r.ec == std::errc() && r.ptr == b + values[i].size();
  }
  std::vector<int> idx(values.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::sort(idx.begin(), idx.end(),
            [&](int a, int b) { return numeric ? num[a] < num[b] : values[a] < values[b]; });
  std::vector<int> rank(values.size());
  for (size_t k = 0; k < idx.size(); ++k) rank[idx[k]] = int(k);
  return rank;
}

std::string short_field(const std::string& dotted) {
  auto p = dotted.find('.');
  return p == std::string::npos ? dotted : dotted.substr(p + 1);
}

// The fields worth naming when describing a group of `rows`: those that vary among them, except
// slice keys, seed, threads and the excluded ones. (Fields that vary only across architectures,
// such as heads = 0 for an MLP, say nothing about a group of transformers.)
std::vector<int> varying_within(const GroupingColumns& g, const std::vector<size_t>& rows,
                                const std::vector<int>& excluded) {
  std::vector<int> out;
  if (rows.empty()) return out;
  for (size_t f = 0; f < g.names.size(); ++f) {
    const std::string& name = g.names[f];
    if (!g.varies(int(f)) || name.rfind("data.", 0) == 0 || name == "train.protocol" ||
        name == "train.seed" || name == "train.threads" ||
        std::find(excluded.begin(), excluded.end(), int(f)) != excluded.end())
      continue;
    const int32_t first = g.codes[f][rows.front()];
    for (size_t r : rows)
      if (g.codes[f][r] != first) {
        out.push_back(int(f));
        break;
      }
  }
  return out;
}

// "field=value ..." over the given fields of a row.
std::string describe(const GroupingColumns& g, size_t row, const std::vector<int>& fields) {
  std::string s;
  for (int f : fields) {
    if (g.value(f, row) == kSetByBudget) continue;  // the budget rule says it already
    if (!s.empty()) s += ' ';
    s += short_field(g.names[f]);
    s += '=';
    s += g.value(f, row);
  }
  return s;
}

void build_axis_effects(const Table& t, AnalysisReport& rep) {
  const GroupingColumns& g = t.g;
  const int f_seed = g.field("train.seed"), f_threads = g.field("train.threads");
  // Fields that vary at all (over usable runs), apart from slice keys, seed and threads.
  std::vector<int> varying;
  for (size_t f = 0; f < g.names.size(); ++f) {
    const std::string& name = g.names[f];
    if (name.rfind("data.", 0) == 0 || name == "train.protocol" || int(f) == f_seed ||
        int(f) == f_threads)
      continue;
    if (g.varies(int(f))) varying.push_back(int(f));
  }
  std::vector<int> axes;
  if (rep.options.axes.empty()) {
    axes = varying;
  } else {
    for (const auto& a : rep.options.axes)
      if (int f = g.field(a); f >= 0) axes.push_back(f);
  }
  for (int a : axes) rep.axes.push_back(g.names[a]);

  std::vector<size_t> all(t.rows());
  std::iota(all.begin(), all.end(), 0);
  std::map<int, std::vector<size_t>> kind_rows;  // slice * kArchCount + arch -> rows
  for (size_t r = 0; r < t.rows(); ++r)
    kind_rows[t.slice_of[r] * kArchCount + t.arch_of[r]].push_back(r);
  for (int axis : axes) {
    std::vector<char> use(g.names.size(), 1);
    use[axis] = 0;
    if (f_seed >= 0) use[f_seed] = 0;
    if (f_threads >= 0) use[f_threads] = 0;
    // Fields that apply only at some values of the axis, and are normalised away at the others
    // (the RoPE base and style are 0 and "halves" for learned positions): they change with the
    // axis by construction, so grouping on them would keep learned and RoPE runs apart.
    if (g.names[axis] == "model.positions")
      for (const char* sub : {"model.rope_base", "model.rope_style"})
        if (int f = g.field(sub); f >= 0) use[f] = 0;
    int64_t n_groups = 0;
    const std::vector<int64_t> group = group_rows(g, use, all, n_groups);
    const std::vector<int> order_of_value = value_order(g.values[axis]);
    // Sort rows by (group, value order): each run of equal (group, value) is one table row.
    std::vector<size_t> rows = all;
    auto vcode = [&](size_t r) { return g.codes[axis][r]; };
    auto vrank = [&](size_t r) { return vcode(r) < 0 ? -1 : order_of_value[vcode(r)]; };
    std::sort(rows.begin(), rows.end(), [&](size_t x, size_t y) {
      if (group[x] != group[y]) return group[x] < group[y];
      return vrank(x) < vrank(y);
    });
    std::vector<int> masked;
    for (size_t f = 0; f < use.size(); ++f)
      if (!use[f]) masked.push_back(int(f));
    // Groups are described by the fields that vary among runs of their slice and architecture.
    std::map<int, std::vector<int>> describe_fields;  // slice * kArchCount + arch -> fields
    auto fields_for = [&](size_t row) -> const std::vector<int>& {
      const int kind = t.slice_of[row] * kArchCount + t.arch_of[row];
      auto it = describe_fields.find(kind);
      if (it == describe_fields.end())
        it = describe_fields.emplace(kind, varying_within(g, kind_rows[kind], masked)).first;
      return it->second;
    };
    std::map<std::tuple<int, std::string>, AxisSummaryRow> summary;  // (slice, value)
    for (size_t i = 0; i < rows.size();) {
      size_t j = i;
      std::vector<std::pair<std::string, Stats>> values;
      while (j < rows.size() && group[rows[j]] == group[rows[i]]) {
        size_t k = j;
        Stats st;
        while (k < rows.size() && group[rows[k]] == group[rows[j]] &&
               vcode(rows[k]) == vcode(rows[j]))
          st.add(rep.runs[rows[k++]].test_nll);
        values.emplace_back(g.value(axis, rows[j]), st);
        j = k;
      }
      if (values.size() >= 2) {
        const size_t first = rows[i];
        const int slice = t.slice_of[first];
        double best = INFINITY;
        for (auto& [v, st] : values) best = std::min(best, st.mean());
        const std::string fixed = describe(g, first, fields_for(first));
        bool best_taken = false;
        for (auto& [v, st] : values) {
          AxisEffectRow row;
          row.axis = g.names[axis];
          row.dataset = rep.runs[first].dataset, row.protocol = rep.runs[first].protocol;
          row.group = group[first], row.fixed = fixed, row.value = v;
          row.n = st.n, row.mean_nll = st.mean(), row.min_nll = st.min, row.max_nll = st.max;
          row.std_nll = st.std();
          row.best_in_group = !best_taken && st.mean() == best;  // first of equal bests
          best_taken = best_taken || row.best_in_group;
          auto& s = summary[{slice, v}];
          s.axis = row.axis, s.dataset = row.dataset, s.protocol = row.protocol, s.value = v;
          s.groups += 1, s.wins += row.best_in_group, s.mean_delta += st.mean() - best;
          rep.axis_effects.push_back(std::move(row));
        }
      }
      i = j;
    }
    // Summary rows in value order within each slice.
    std::vector<AxisSummaryRow> rows_out;
    for (auto& [key, s] : summary) {
      s.mean_delta /= double(s.groups);
      rows_out.push_back(s);
    }
    std::map<std::string, int> rank_of;
    for (size_t c = 0; c < g.values[axis].size(); ++c)
      rank_of[g.values[axis][c]] = order_of_value[c];
    std::stable_sort(rows_out.begin(), rows_out.end(), [&](const auto& x, const auto& y) {
      if (x.dataset != y.dataset) return x.dataset < y.dataset;
      if (x.protocol != y.protocol) return x.protocol < y.protocol;
      return rank_of[x.value] < rank_of[y.value];
    });
    for (auto& s : rows_out) rep.axis_summary.push_back(std::move(s));
  }
}

}  // namespace tinyfront::analysis_table
