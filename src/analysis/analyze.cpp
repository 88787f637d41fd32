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

#include "analysis_table.hpp"

namespace tinyfront {

namespace analysis_table {

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
    const FlopConvention conv = kFlopConventions[ci];
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

}  // namespace analysis_table

using namespace analysis_table;

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
