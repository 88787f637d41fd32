// analyze_runs: the tables of analysis.hpp from run records. Every table is built from integer
// codes and index sorts, so that 100k runs take well under a second; only the fits are slow.
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

namespace tinyfront {

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string fmt(double v, int precision = 4) {
  std::ostringstream s;
  s.precision(precision);
  s << v;
  return s.str();
}

std::string fixed3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// Index of each distinct string, in order of first appearance.
struct Interner {
  std::unordered_map<std::string, int> index;
  std::vector<std::string> names;
  int code(const std::string& s) {
    auto [it, inserted] = index.emplace(s, int(names.size()));
    if (inserted) names.push_back(s);
    return it->second;
  }
};

// The log10 bucket a cost falls in, or INT64_MIN for costs that are not positive and finite.
int64_t bucket_of(double cost, double per_decade) {
  if (!(cost > 0) || !std::isfinite(cost)) return INT64_MIN;
  return int64_t(std::floor(std::log10(cost) * per_decade + 1e-9));
}

// Running mean / min / max / variance of NLLs.
struct Stats {
  int64_t n = 0;
  double sum = 0, sumsq = 0, min = INFINITY, max = -INFINITY;
  void add(double v) {
    ++n, sum += v, sumsq += v * v;
    min = std::min(min, v), max = std::max(max, v);
  }
  double mean() const { return n ? sum / double(n) : NAN; }
  double std() const {  // sample standard deviation over seeds; 0 for a single run
    if (n < 2) return 0;
    return std::sqrt(std::max(0.0, (sumsq - sum * sum / double(n)) / double(n - 1)));
  }
};

// Everything the analysis passes around: usable rows and their slices and columns.
struct Table {
  const std::vector<RunRecord>* records = nullptr;
  std::vector<size_t> record_of;  // usable row -> record index
  std::vector<int> slice_of;      // usable row -> slice index
  std::vector<int> arch_of;       // usable row -> Arch as int
  std::vector<SliceCounts>* slices = nullptr;
  ConfigColumns cols;
  GroupingColumns g;
  const RunRecord& rec(size_t row) const { return (*records)[record_of[row]]; }
  size_t rows() const { return record_of.size(); }
};

const char* arch_name(int a) {
  return to_string(Arch(a));
}
constexpr int kArchCount = 4;

// ---------------------------------------------------------------------------------------------

void build_frontiers(const Table& t, AnalysisReport& rep) {
  const size_t n_slices = rep.slices.size();
  std::vector<std::vector<size_t>> by_slice(n_slices);
  for (size_t r = 0; r < t.rows(); ++r) by_slice[t.slice_of[r]].push_back(r);
  std::vector<double> cost, loss;
  std::vector<std::string> ids;
  for (size_t s = 0; s < n_slices; ++s) {
    for (int scope = -1; scope < kArchCount; ++scope) {  // -1 = all architectures
      std::vector<size_t> rows;
      for (size_t r : by_slice[s])
        if (scope < 0 || t.arch_of[r] == scope) rows.push_back(r);
      if (rows.empty()) continue;
      for (size_t ai = 0; ai < kCostAxes.size(); ++ai) {
        const CostAxis axis = kCostAxes[ai];
        cost.clear(), loss.clear(), ids.clear();
        for (size_t r : rows) {
          const double c = run_cost(t.rec(r).result, axis);
          cost.push_back(c > 0 ? c : NAN);  // a missing (zero) cost is not a free run
          loss.push_back(t.rec(r).result.test_nll);
          ids.push_back(t.rec(r).run_id);
        }
        for (size_t k : pareto_frontier(cost, loss, ids)) {
          const size_t r = rows[k];
          const RunRecord& rec = t.rec(r);
          FrontierRow f;
          f.dataset = rep.slices[s].dataset, f.protocol = rep.slices[s].protocol;
          f.scope = scope < 0 ? "all" : arch_name(scope);
          f.axis = axis, f.run_id = rec.run_id, f.arch = arch_name(t.arch_of[r]);
          f.cost = cost[k], f.test_nll = loss[k];
          f.params = rec.result.params, f.train_tokens = rec.result.train_tokens;
          if (scope < 0) rep.runs[r].on_frontier[ai] = true;
          (axis == CostAxis::params ? rep.frontier_params : rep.frontier_flops).push_back(f);
        }
      }
    }
  }
}

void build_ranking(const Table& t, AnalysisReport& rep) {
  const double bpd = rep.options.buckets_per_decade > 0 ? rep.options.buckets_per_decade : 1.0;
  for (size_t ci = 0; ci < kFlopConventions.size(); ++ci) {
    const CostAxis conv = kFlopConventions[ci];
    struct Key {
      int slice;
      int64_t bucket;
      int arch;
      size_t row;
    };
    std::vector<Key> keys;
    keys.reserve(t.rows());
    for (size_t r = 0; r < t.rows(); ++r) {
      const int64_t b = bucket_of(rep.runs[r].flops[ci], bpd);
      if (b != INT64_MIN) keys.push_back({t.slice_of[r], b, t.arch_of[r], r});
    }
    // Per (slice, bucket, arch): the best run first (lowest NLL, then smallest id).
    std::sort(keys.begin(), keys.end(), [&](const Key& a, const Key& b) {
      if (a.slice != b.slice) return a.slice < b.slice;
      if (a.bucket != b.bucket) return a.bucket < b.bucket;
      if (a.arch != b.arch) return a.arch < b.arch;
      const RunRow &x = rep.runs[a.row], &y = rep.runs[b.row];
      if (x.test_nll != y.test_nll) return x.test_nll < y.test_nll;
      return x.run_id < y.run_id;
    });
    std::map<std::tuple<int, int>, RankingSummaryRow> summary;  // (slice, arch)
    for (size_t i = 0; i < keys.size();) {
      size_t j = i;
      std::vector<RankingRow> bucket_rows;
      while (j < keys.size() && keys[j].slice == keys[i].slice &&
             keys[j].bucket == keys[i].bucket) {
        size_t k = j;
        while (k < keys.size() && keys[k].slice == keys[j].slice &&
               keys[k].bucket == keys[j].bucket && keys[k].arch == keys[j].arch)
          ++k;
        const RunRow& best = rep.runs[keys[j].row];
        RankingRow row;
        row.convention = conv;
        row.dataset = best.dataset, row.protocol = best.protocol;
        row.bucket_lo = double(keys[j].bucket) / bpd,
        row.bucket_hi = double(keys[j].bucket + 1) / bpd;
        row.arch = best.arch, row.best_nll = best.test_nll, row.best_run_id = best.run_id;
        row.n_runs = int64_t(k - j);
        bucket_rows.push_back(row);
        j = k;
      }
      std::stable_sort(
          bucket_rows.begin(), bucket_rows.end(),
          [](const RankingRow& a, const RankingRow& b) { return a.best_nll < b.best_nll; });
      for (size_t k = 0; k < bucket_rows.size(); ++k) bucket_rows[k].rank = int(k + 1);
      for (auto& row : bucket_rows) {
        Arch a{};
        parse_enum(row.arch, a);
        auto& s = summary[{keys[i].slice, int(a)}];
        s.convention = conv, s.dataset = row.dataset, s.protocol = row.protocol, s.arch = row.arch;
        s.buckets += 1;
        s.wins += row.rank == 1;
        s.mean_rank += row.rank;
        rep.ranking.push_back(row);
      }
      i = j;
    }
    for (auto& [key, s] : summary) {
      if (s.buckets == 0) continue;
      s.mean_rank /= s.buckets;
      rep.ranking_summary.push_back(s);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// FLOP-convention sensitivity: frontier membership, bucket winners, FLOP ratios, findings.

void build_convention_sensitivity(const Table& t, AnalysisReport& rep) {
  (void)t;
  const char* short_name[3] = {"study", "kaplan", "exact"};
  for (const RunRow& r : rep.runs)
    if (r.on_frontier[0] || r.on_frontier[1] || r.on_frontier[2]) {
      FrontierMembershipRow m;
      m.dataset = r.dataset, m.protocol = r.protocol, m.run_id = r.run_id, m.arch = r.arch;
      m.test_nll = r.test_nll, m.flops = r.flops;
      for (int c = 0; c < 3; ++c) m.on[c] = r.on_frontier[c];
      rep.membership.push_back(m);
    }
  // Bucket winners: rank-1 rows of the ranking, side by side.
  std::map<std::tuple<std::string, std::string, double>, BucketWinnerRow> winners;
  for (const RankingRow& row : rep.ranking) {
    if (row.rank != 1) continue;
    auto& w = winners[{row.dataset, row.protocol, row.bucket_lo}];
    w.dataset = row.dataset, w.protocol = row.protocol;
    w.bucket_lo = row.bucket_lo, w.bucket_hi = row.bucket_hi;
    const int c = int(row.convention);
    w.winner[c] = row.arch, w.best_nll[c] = row.best_nll;
  }
  for (auto& [key, w] : winners) {
    std::set<std::string> distinct;
    for (auto& a : w.winner)
      if (!a.empty()) distinct.insert(a);
    w.changed = distinct.size() > 1;
    rep.bucket_winners.push_back(w);
  }
  // FLOP ratios per slice and architecture.
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<const RunRow*>> by_arch;
  for (const RunRow& r : rep.runs) by_arch[{r.dataset, r.protocol, r.arch}].push_back(&r);
  for (auto& [key, rows] : by_arch) {
    FlopsRatioRow f;
    std::tie(f.dataset, f.protocol, f.arch) = key;
    double log_s = 0, log_k = 0;
    f.study_over_exact_min = f.kaplan_over_exact_min = INFINITY;
    f.study_over_exact_max = f.kaplan_over_exact_max = -INFINITY;
    int64_t n_k = 0;
    for (const RunRow* r : rows) {
      if (!(r->flops[2] > 0)) continue;
      const double s = r->flops[0] / r->flops[2], k = r->flops[1] / r->flops[2];
      if (s > 0) {
        ++f.n, log_s += std::log(s);
        f.study_over_exact_min = std::min(f.study_over_exact_min, s);
        f.study_over_exact_max = std::max(f.study_over_exact_max, s);
      }
      if (k > 0) {
        ++n_k, log_k += std::log(k);
        f.kaplan_over_exact_min = std::min(f.kaplan_over_exact_min, k);
        f.kaplan_over_exact_max = std::max(f.kaplan_over_exact_max, k);
      }
    }
    if (f.n == 0) continue;  // no exact counts
    f.study_over_exact = std::exp(log_s / double(f.n));
    f.kaplan_over_exact = n_k ? std::exp(log_k / double(n_k)) : NAN;
    if (!n_k) f.kaplan_over_exact_min = f.kaplan_over_exact_max = NAN;
    rep.flops_ratios.push_back(f);
  }

  // Findings, per slice.
  for (const SliceCounts& sl : rep.slices) {
    if (sl.usable == 0) continue;
    const std::string where = sl.dataset + "/" + sl.protocol;
    std::array<std::vector<std::string>, 3> members;
    std::map<std::string, std::string> arch_of_run;
    for (const auto& m : rep.membership)
      if (m.dataset == sl.dataset && m.protocol == sl.protocol) {
        arch_of_run[m.run_id] = m.arch;
        for (int c = 0; c < 3; ++c)
          if (m.on[c]) members[c].push_back(m.run_id);
      }
    std::ostringstream s;
    s << where << ": the all-architecture frontier has " << members[0].size() << " runs under "
      << "flops_study, " << members[1].size() << " under flops_kaplan, " << members[2].size()
      << " under flops_exact";
    std::vector<std::string> differing;
    for (const auto& m : rep.membership) {
      if (m.dataset != sl.dataset || m.protocol != sl.protocol) continue;
      if (m.on[0] == m.on[1] && m.on[1] == m.on[2]) continue;
      std::string on;
      for (int c = 0; c < 3; ++c)
        if (m.on[c]) on += std::string(on.empty() ? "" : "+") + short_name[c];
      differing.push_back(m.run_id + " (" + m.arch + ", only " + on + ")");
    }
    if (differing.empty()) {
      s << "; the members are the same under all three.";
    } else {
      s << "; " << differing.size() << " members differ: ";
      for (size_t i = 0; i < differing.size() && i < 8; ++i) s << (i ? ", " : "") << differing[i];
      if (differing.size() > 8) s << ", ... (see convention_sensitivity.csv)";
      s << ".";
    }
    rep.convention_findings.push_back(s.str());

    int buckets = 0, changed = 0;
    std::ostringstream w;
    for (const auto& b : rep.bucket_winners) {
      if (b.dataset != sl.dataset || b.protocol != sl.protocol) continue;
      ++buckets;
      if (!b.changed) continue;
      if (changed < 4) {
        w << (changed ? "; " : " ") << "10^" << fmt(b.bucket_lo, 3) << "-10^" << fmt(b.bucket_hi, 3)
          << " FLOPs:";
        for (int c = 0; c < 3; ++c)
          w << " " << short_name[c] << " " << (b.winner[c].empty() ? "-" : b.winner[c])
            << (b.winner[c].empty() ? "" : " (" + fixed3(b.best_nll[c]) + ")");
      }
      ++changed;
    }
    std::ostringstream s2;
    s2 << where << ": the best architecture per FLOP decade differs between conventions in "
       << changed << " of " << buckets << " buckets" << (changed ? ":" : ".") << w.str()
       << (changed > 4 ? "; ..." : "") << (changed ? "." : "");
    rep.convention_findings.push_back(s2.str());

    std::ostringstream s3;
    s3 << where << ": flops_study / flops_exact (geometric mean over runs):";
    bool any = false;
    for (const auto& f : rep.flops_ratios)
      if (f.dataset == sl.dataset && f.protocol == sl.protocol) {
        s3 << (any ? ", " : " ") << f.arch << " " << fmt(f.study_over_exact, 3) << "x";
        any = true;
      }
    if (any) {
      s3 << " (>1: the study's 2*P*tokens overstates the cost; <1: understates).";
      rep.convention_findings.push_back(s3.str());
    }
  }
}

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

// ---------------------------------------------------------------------------------------------
// Scaling-law fits per slice and architecture.

void build_fits(const Table& t, AnalysisReport& rep) {
  rep.fit_point_rule =
      "one point per distinct (params, train_tokens): the seed-mean test NLL of each config "
      "(runs equal in every field but train.seed), then the lowest over configs with that "
      "(params, train_tokens), i.e. the best other hyperparameters (learning rate, ...) found";
  const GroupingColumns& g = t.g;
  std::vector<char> use(g.names.size(), 1);
  for (const char* name : {"train.seed", "train.threads"})
    if (int f = g.field(name); f >= 0) use[f] = 0;
  std::vector<size_t> all(t.rows());
  std::iota(all.begin(), all.end(), 0);
  int64_t n_configs = 0;
  const std::vector<int64_t> config = group_rows(g, use, all, n_configs);
  std::vector<Stats> per_config(static_cast<size_t>(n_configs));
  for (size_t r = 0; r < all.size(); ++r) per_config[config[r]].add(rep.runs[r].test_nll);

  auto is_iso_flops = [&](size_t r) { return rep.runs[r].budget.rfind("iso_flops", 0) == 0; };
  for (size_t s = 0; s < rep.slices.size(); ++s) {
    for (int a = 0; a < kArchCount; ++a) {
      for (const bool iso_only : {false, true}) {
        std::map<std::pair<int64_t, int64_t>, double> points;  // (N, D) -> best config mean
        std::set<int64_t> seen_configs;
        int64_t runs = 0, iso_runs = 0;
        for (size_t r = 0; r < t.rows(); ++r) {
          if (t.slice_of[r] != int(s) || t.arch_of[r] != a) continue;
          if (is_iso_flops(r)) ++iso_runs;
          if (iso_only && !is_iso_flops(r)) continue;
          ++runs;
          if (!seen_configs.insert(config[r]).second) continue;
          const auto key = std::make_pair(rep.runs[r].params, rep.runs[r].train_tokens);
          const double m = per_config[config[r]].mean();
          auto [it, inserted] = points.emplace(key, m);
          if (!inserted) it->second = std::min(it->second, m);
        }
        if (runs == 0) continue;
        // The iso-FLOP-only fit is a second fit only when it leaves other runs out.
        if (iso_only && iso_runs == 0) continue;
        if (iso_only) {
          int64_t all_runs = 0;
          for (size_t r = 0; r < t.rows(); ++r)
            all_runs += t.slice_of[r] == int(s) && t.arch_of[r] == a;
          if (all_runs == iso_runs) continue;
        }
        FitRow row;
        row.dataset = rep.slices[s].dataset, row.protocol = rep.slices[s].protocol;
        row.arch = arch_name(a);
        row.runs_used = iso_only ? "iso_flops" : "all";
        row.runs = runs;
        std::vector<double> N, D, L;
        for (auto& [nd, loss] : points) {
          N.push_back(double(nd.first));
          D.push_back(double(nd.second));
          L.push_back(loss);
        }
        row.fit = fit_scaling_law(N, D, L, rep.options.fit_options);
        row.N = N, row.D = D, row.L = L;
        if (row.fit.ok && row.fit.alpha > 0 && row.fit.beta > 0) {
          double cmin = INFINITY, cmax = 0;
          for (size_t i = 0; i < N.size(); ++i) {
            cmin = std::min(cmin, 6 * N[i] * D[i]);
            cmax = std::max(cmax, 6 * N[i] * D[i]);
          }
          const int k0 = int(std::floor(std::log10(cmin)));
          const int k1 = int(std::ceil(std::log10(cmax))) + rep.options.optimal_extra_decades;
          for (int k = k0; k <= k1; ++k)
            row.optimal.push_back(compute_optimal(row.fit, std::pow(10.0, k)));
        }
        rep.fits.push_back(std::move(row));
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

AnalysisReport analyze_runs(const std::vector<RunRecord>& records, const AnalysisOptions& options) {
  const auto t0 = std::chrono::steady_clock::now();
  AnalysisReport rep;
  rep.options = options;
  rep.records = int64_t(records.size());

  // Usable runs and per-slice counts.
  Table t;
  t.records = &records;
  t.slices = &rep.slices;
  Interner slice_names;
  for (size_t i = 0; i < records.size(); ++i) {
    const RunRecord& r = records[i];
    const std::string dataset = r.config.data.name, protocol = to_string(r.config.train.protocol);
    const int s = slice_names.code(dataset + '\n' + protocol);
    if (s == int(rep.slices.size())) rep.slices.push_back({dataset, protocol, 0, {}});
    if (is_usable(r)) {
      ++rep.slices[s].usable;
      t.record_of.push_back(i);
      t.slice_of.push_back(s);
      t.arch_of.push_back(int(r.config.model.arch));
    } else {
      rep.ignored.count(r);
      rep.slices[s].ignored.count(r);
    }
  }
  rep.usable = int64_t(t.rows());

  std::vector<const RunConfig*> configs;
  configs.reserve(t.rows());
  for (size_t r = 0; r < t.rows(); ++r) configs.push_back(&t.rec(r).config);
  t.cols = config_columns(configs);
  t.g = grouping_columns(t.cols);

  rep.runs.reserve(t.rows());
  for (size_t r = 0; r < t.rows(); ++r) {
    const RunRecord& rec = t.rec(r);
    const ModelConfig& m = rec.config.model;
    const bool attn = m.is_attention_family();
    RunRow row;
    row.run_id = rec.run_id;
    row.dataset = rep.slices[t.slice_of[r]].dataset;
    row.protocol = rep.slices[t.slice_of[r]].protocol;
    row.arch = to_string(m.arch);
    row.budget = rec.config.train.budget;
    row.layers = attn ? m.blocks() : 0;
    row.heads = attn ? m.heads : 0;
    row.context = m.context;
    row.d_model = m.arch == Arch::linear && m.one_hot ? 0 : m.d_model;
    row.positions = attn ? to_string(m.positions) : "none";
    row.norm = attn ? to_string(m.norm) : "none";
    row.lr = rec.config.train.lr;
    row.seed = rec.config.train.seed;
    const TrainResult& res = rec.result;
    row.params = res.params, row.params_non_embedding = res.params_non_embedding;
    row.train_tokens = res.train_tokens, row.train_targets = res.train_targets;
    row.flops = {res.flops_study, res.flops_kaplan, res.flops_exact};
    row.test_nll = res.test_nll, row.best_val_nll = res.best_val_nll;
    row.wall_seconds = res.wall_seconds;
    rep.runs.push_back(std::move(row));
  }

  build_frontiers(t, rep);
  build_ranking(t, rep);
  build_convention_sensitivity(t, rep);
  build_axis_effects(t, rep);
  build_compute_scaled(t, rep);

  // Learning curves of every run on an all-architecture frontier.
  for (size_t r = 0; r < t.rows(); ++r) {
    const auto& on = rep.runs[r].on_frontier;
    if (std::any_of(on.begin(), on.end(), [](bool b) { return b; }))
      rep.curves.push_back({rep.runs[r].run_id, t.rec(r).result.curve});
  }
  // Published figures beside ours: every record, not only the usable ones (a reference row
  // says how many matching runs failed).
  for (const auto& ref : options.references)
    rep.references.push_back(compare_reference(records, ref));
  rep.seconds_analysis = seconds_since(t0);

  if (options.fit) {
    const auto t1 = std::chrono::steady_clock::now();
    build_fits(t, rep);
    rep.seconds_fit = seconds_since(t1);
  }
  return rep;
}

}  // namespace tinyfront
