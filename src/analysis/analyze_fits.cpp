// analyze_runs' scaling-law fits per slice and architecture.
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

  auto is_iso_flops = [&](size_t r) {
    const auto rule = parse_budget_label(rep.runs[r].budget);
    return rule && rule->mode == BudgetMode::iso_flops;
  };
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

}  // namespace tinyfront::analysis_table
