// report.md: the analysis in prose and tables, the first rows of each (the CSVs have them all).
#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <sstream>

#include "markdown.hpp"
#include "report_parts.hpp"

namespace tinyfront {

namespace {

using md::f4;
using md::g3;
using md::interval;
using md::md_table;
using md::num;
using md::write_reference_markdown;

// Rows of a long table shown in Markdown; the CSV has them all.
constexpr size_t kMdRows = 40;

}  // namespace

std::string markdown_report(const AnalysisReport& rep) {
  std::ostringstream o;
  const FlopConvention main = rep.options.main_convention;
  const CostAxis main_axis = flops_axis(main);
  o << "# tinyfront analysis\n\n";
  o << rep.records << " run records; " << rep.usable << " usable (status done, finite test NLL); "
    << rep.ignored.total() << " ignored: " << rep.ignored.failed << " failed, "
    << rep.ignored.diverged << " diverged, " << rep.ignored.other
    << " other (pending, running or preempted), " << rep.ignored.nonfinite_nll
    << " done with a non-finite test NLL.\n\n";
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& s : rep.slices)
      rows.push_back({s.dataset, s.protocol, num(s.usable), num(s.ignored.failed),
                      num(s.ignored.diverged), num(s.ignored.other), num(s.ignored.nonfinite_nll)});
    md_table(o, {"dataset", "protocol", "usable", "failed", "diverged", "other", "non-finite NLL"},
             rows);
  }
  o << "NLL is test NLL in nats/token. FLOPs: `flops_study` = 2 x params x window tokens (the "
       "study's), `flops_kaplan` = 6 x non-embedding params x predicted tokens, `flops_exact` = "
       "counted forward + backward FLOPs. Headline tables use `"
    << to_string(main_axis) << "`.\n\n";

  write_reference_markdown(o, rep);

  // Frontiers.
  o << "## Frontier: test NLL vs training FLOPs (" << to_string(main_axis) << ")\n\n"
    << "A run is on the frontier iff no other run has cost <= its cost and NLL < its NLL, or cost "
       "< its cost and NLL <= its NLL; of exact duplicates the smallest run_id is kept. "
       "Per-architecture frontiers and the other conventions are in `frontier_flops.csv`.\n\n";
  for (const auto& s : rep.slices) {
    std::vector<std::vector<std::string>> rows;
    std::map<std::string, int> per_arch;
    for (const auto& f : rep.frontier_flops) {
      if (f.dataset != s.dataset || f.protocol != s.protocol || f.axis != main_axis) continue;
      if (f.scope == "all")
        rows.push_back(
            {f.run_id, f.arch, num(f.params), num(f.train_tokens), g3(f.cost), f4(f.test_nll)});
      else
        per_arch[f.scope] += 1;
    }
    if (rows.empty()) continue;
    o << "### " << s.dataset << " / " << s.protocol << "\n\n";
    md_table(o, {"run_id", "arch", "params", "train tokens", "FLOPs", "test NLL"}, rows);
    if (!per_arch.empty()) {
      o << "Per-architecture frontier sizes:";
      for (auto& [a, n] : per_arch) o << " " << a << " " << n << ";";
      o << "\n\n";
    }
  }
  o << "## Frontier: test NLL vs parameters\n\n";
  for (const auto& s : rep.slices) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& f : rep.frontier_params)
      if (f.dataset == s.dataset && f.protocol == s.protocol && f.scope == "all")
        rows.push_back({f.run_id, f.arch, num(f.params), num(f.train_tokens), f4(f.test_nll)});
    if (rows.empty()) continue;
    o << "### " << s.dataset << " / " << s.protocol << "\n\n";
    md_table(o, {"run_id", "arch", "params", "train tokens", "test NLL"}, rows);
  }

  // Ranking.
  o << "## Architectures at matched FLOPs (" << to_string(main_axis) << ")\n\n"
    << "Runs bucketed by floor(log10 FLOPs x " << rep.options.buckets_per_decade
    << "); each cell is the architecture's best test NLL in the bucket and its rank (1 = "
       "best).\n\n";
  for (const auto& s : rep.slices) {
    std::set<std::string> archs;
    std::map<double, std::map<std::string, const RankingRow*>> grid;
    for (const auto& r : rep.ranking)
      if (r.convention == main && r.dataset == s.dataset && r.protocol == s.protocol) {
        archs.insert(r.arch);
        grid[r.bucket_lo][r.arch] = &r;
      }
    if (grid.empty()) continue;
    o << "### " << s.dataset << " / " << s.protocol << "\n\n";
    std::vector<std::string> header{"FLOPs bucket"};
    for (auto& a : archs) header.push_back(a);
    std::vector<std::vector<std::string>> rows;
    for (auto& [lo, cells] : grid) {
      std::vector<std::string> row{"1e" + g3(lo) + " - 1e" + g3(cells.begin()->second->bucket_hi)};
      for (auto& a : archs) {
        auto it = cells.find(a);
        row.push_back(it == cells.end()
                          ? ""
                          : f4(it->second->best_nll) + " (#" + num(it->second->rank) + ")");
      }
      rows.push_back(row);
    }
    md_table(o, header, rows);
    std::vector<std::vector<std::string>> sum;
    for (const auto& r : rep.ranking_summary)
      if (r.convention == main && r.dataset == s.dataset && r.protocol == s.protocol)
        sum.push_back({r.arch, num(r.buckets), num(r.wins), f4(r.mean_rank)});
    md_table(o, {"arch", "buckets", "wins", "mean rank"}, sum);
  }

  // Axis effects.
  o << "## Effect of each axis, other fields fixed\n\n"
    << "Runs are grouped by every config field except the axis and the seed (under a scaled "
       "budget rule also except the fields it derives: epochs, windows_per_epoch, tokens). Per "
       "axis value: groups it occurs in, groups where it has the lowest seed-mean NLL (wins), and "
       "its mean NLL gap to the group's best. Per-group values with seed mean/min/max/n are in "
       "`axis_effects.csv`.\n\n";
  if (rep.axes.empty()) o << "No config field varies across the usable runs.\n\n";
  std::vector<std::string> never_alone;
  for (const auto& axis : rep.axes) {
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : rep.axis_summary)
      if (r.axis == axis)
        rows.push_back(
            {r.dataset + "/" + r.protocol, r.value, num(r.groups), num(r.wins), f4(r.mean_delta)});
    if (rows.empty()) {
      never_alone.push_back(axis);
      continue;
    }
    o << "### " << axis << "\n\n";
    md_table(o, {"slice", "value", "groups", "wins", "mean NLL gap to best"}, rows);
  }
  if (!never_alone.empty()) {
    o << "Fields that vary but never alone (no two runs differ only in them and the seed, e.g. "
         "because they vary only across architectures or together with another field):";
    for (size_t i = 0; i < never_alone.size(); ++i)
      o << (i ? ", " : " ") << "`" << never_alone[i] << "`";
    o << ".\n\n";
  }

  // Conventions.
  o << "## FLOP-convention sensitivity\n\n";
  for (const auto& f : rep.convention_findings) o << "- " << f << "\n";
  o << "\n";
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& f : rep.flops_ratios)
      rows.push_back({f.dataset + "/" + f.protocol, f.arch, num(f.n), g3(f.study_over_exact),
                      g3(f.study_over_exact_min) + " - " + g3(f.study_over_exact_max),
                      g3(f.kaplan_over_exact)});
    if (!rows.empty())
      md_table(o, {"slice", "arch", "runs", "study/exact", "range", "kaplan/exact"}, rows);
  }
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& b : rep.bucket_winners) {
      if (!b.changed) continue;
      std::vector<std::string> row{b.dataset + "/" + b.protocol,
                                   "1e" + g3(b.bucket_lo) + " - 1e" + g3(b.bucket_hi)};
      for (int c = 0; c < 3; ++c)
        row.push_back(b.winner[c].empty() ? "" : b.winner[c] + " " + f4(b.best_nll[c]));
      rows.push_back(row);
    }
    if (!rows.empty()) {
      o << "Buckets whose winner depends on the convention:\n\n";
      if (rows.size() > kMdRows) rows.resize(kMdRows);
      md_table(o, {"slice", "FLOPs bucket", "study", "kaplan", "exact"}, rows);
    }
  }

  // Compute-scaled.
  o << "## Compute-scaled depth check\n\n"
    << "Attention-family runs (attention = 1 block) grouped by every field except depth, seed and "
       "the budget-derived fields, at matched budget rules (scaled_epochs labels are matched as "
       "one "
       "rule).\n\n";
  for (const auto& n : rep.compute_notes) o << n << "\n\n";
  for (const auto& v : rep.compute_verdicts) o << "- " << v.sentence << "\n";
  if (!rep.compute_verdicts.empty()) o << "\n";
  {
    std::vector<std::vector<std::string>> rows;
    for (const auto& r : rep.compute_scaled)
      if (r.scaled)
        rows.push_back({r.dataset + "/" + r.protocol, r.budget, num(r.group), r.fixed,
                        num(r.layers), num(r.n), f4(r.mean_nll),
                        f4(r.min_nll) + " - " + f4(r.max_nll), g3(r.params), g3(r.flops_exact)});
    if (!rows.empty()) {
      o << "Scaled-budget groups; `compute_scaled.csv` also has the fixed-budget groups for "
           "reference.\n\n";
      if (rows.size() > kMdRows) {
        o << "First " << kMdRows << " of " << rows.size() << " rows:\n\n";
        rows.resize(kMdRows);
      }
      md_table(o,
               {"slice", "budget", "group", "fixed fields", "L", "seeds", "mean NLL", "min - max",
                "params", "exact FLOPs"},
               rows);
    }
  }

  // Fits.
  o << "## Scaling-law fits: L(N, D) = E + A/N^alpha + B/D^beta\n\n";
  if (!rep.options.fit) {
    o << "Not run (fit disabled in the options).\n\n";
  } else {
    o << "N = params, D = train tokens. Huber loss (delta = " << rep.options.fit_options.huber_delta
      << ") on log-loss residuals, L-BFGS from the best " << rep.options.fit_options.starts
      << " of a grid of initial values; " << rep.options.fit_options.ci_level * 100
      << "% bootstrap intervals over " << rep.options.fit_options.bootstrap_reps
      << " resamples of the points. Points: " << rep.fit_point_rule << ".\n\n";
    std::vector<std::vector<std::string>> rows;
    for (const auto& f : rep.fits) {
      const ScalingFit& s = f.fit;
      const std::string where = f.dataset + "/" + f.protocol;
      if (!s.ok) {
        o << "- " << where << " " << fit_label(f) << " (" << f.runs << " runs): " << s.message
          << "\n";
        continue;
      }
      rows.push_back(
          {where, fit_label(f), num(s.n_points), g3(s.E) + " " + interval(s.E_ci, true),
           g3(s.A) + " " + interval(s.A_ci, true), g3(s.B) + " " + interval(s.B_ci, true),
           f4(s.alpha) + " " + interval(s.alpha_ci), f4(s.beta) + " " + interval(s.beta_ci),
           f4(s.rmse_log), f4(s.max_abs_residual)});
    }
    o << "\n";
    if (!rows.empty()) {
      md_table(o,
               {"slice", "arch", "points", "E", "A", "B", "alpha", "beta", "RMSE log L",
                "max abs residual"},
               rows);
      for (const auto& f : rep.fits) {
        if (!f.fit.ok) continue;
        if (!f.fit.message.empty())
          o << "Note (" << fit_label(f) << "): " << f.fit.message << "\n\n";
        if (f.optimal.empty()) continue;
        o << "Compute-optimal allocation for " << f.dataset << "/" << f.protocol << " "
          << fit_label(f) << " under C = 6ND: N* ~ C^"
          << f4(f.fit.beta / (f.fit.alpha + f.fit.beta)) << " " << interval(f.fit.n_exponent_ci)
          << ", D* ~ C^" << f4(f.fit.alpha / (f.fit.alpha + f.fit.beta)) << ".\n\n";
        std::vector<std::vector<std::string>> opt;
        for (const auto& c : f.optimal) opt.push_back({g3(c.C), g3(c.N), g3(c.D), f4(c.loss)});
        md_table(o, {"C (FLOPs)", "N*", "D*", "L(N*, D*)"}, opt);
      }
    }
  }

  o << "## Timing\n\n"
    << "Analysis without fits: " << g3(rep.seconds_analysis) << " s for " << rep.records
    << " records. Fits and bootstraps: " << g3(rep.seconds_fit) << " s.\n";

  return o.str();
}

}  // namespace tinyfront
