#include "tinyfront/analysis/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "markdown.hpp"
#include "tinyfront/util/csv.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"

namespace tinyfront {

namespace {

namespace fs = std::filesystem;

using md::f4;
using md::figure;
using md::flag;
using md::g3;
using md::interval;
using md::md_table;
using md::num;
using md::short_convention;

constexpr const char* kReportMark = ".tinyfront-report";

// Every file of a report goes through here. While write_report runs, files are only collected:
// all of them are checked before the first is written, so that a refused report (a read-only
// report.md) changes nothing.
thread_local std::vector<std::pair<fs::path, std::string>>* g_report_files = nullptr;

void write_report_file(const fs::path& path, const std::string& text) {
  if (!g_report_files) throw Error("write_report_file: outside write_report");
  g_report_files->emplace_back(path, text);
}

// A CSV file: a header, then rows; fields with a comma, quote or newline are quoted (RFC 4180).
class Csv {
 public:
  Csv(const fs::path& path, const std::vector<std::string>& header) : path_(path) { row(header); }
  void row(const std::vector<std::string>& fields) {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i) out_ << ',';
      out_ << csv_quote(fields[i]);
    }
    out_ << '\n';
  }
  ~Csv() noexcept(false) {
    if (std::uncaught_exceptions() == 0) write_report_file(path_, out_.str());
  }

 private:
  fs::path path_;
  std::ostringstream out_;
};

// Rows of a long table shown in Markdown; the CSV has them all.
constexpr size_t kMdRows = 40;

// ---------------------------------------------------------------------------------------------

// A fit's name in prose: the architecture, and which of its runs when not all.
std::string fit_label(const FitRow& f) {
  return f.runs_used == "all" ? f.arch : f.arch + " (" + f.runs_used + " runs only)";
}

void write_csvs(const AnalysisReport& rep, const fs::path& dir) {
  {
    Csv c(dir / "runs.csv", {"run_id",
                             "dataset",
                             "protocol",
                             "arch",
                             "budget",
                             "layers",
                             "heads",
                             "context",
                             "d_model",
                             "positions",
                             "norm",
                             "lr",
                             "seed",
                             "params",
                             "params_non_embedding",
                             "train_tokens",
                             "train_targets",
                             "flops_study",
                             "flops_kaplan",
                             "flops_exact",
                             "study_over_exact",
                             "test_nll",
                             "best_val_nll",
                             "wall_seconds",
                             "frontier_study",
                             "frontier_kaplan",
                             "frontier_exact",
                             "frontier_params"});
    for (const RunRow& r : rep.runs)
      c.row({r.run_id,
             r.dataset,
             r.protocol,
             r.arch,
             r.budget,
             num(r.layers),
             num(r.heads),
             num(r.context),
             num(r.d_model),
             r.positions,
             r.norm,
             num(r.lr),
             num(r.seed),
             num(r.params),
             num(r.params_non_embedding),
             num(r.train_tokens),
             num(r.train_targets),
             num(r.flops[0]),
             num(r.flops[1]),
             num(r.flops[2]),
             num(r.flops[2] > 0 ? r.flops[0] / r.flops[2] : NAN),
             num(r.test_nll),
             num(r.best_val_nll),
             num(r.wall_seconds),
             flag(r.on_frontier[0]),
             flag(r.on_frontier[1]),
             flag(r.on_frontier[2]),
             flag(r.on_frontier[3])});
  }
  {
    Csv c(dir / "slices.csv", {"dataset", "protocol", "usable", "failed", "diverged", "other",
                               "nonfinite_nll", "ignored"});
    for (const auto& s : rep.slices)
      c.row({s.dataset, s.protocol, num(s.usable), num(s.ignored.failed), num(s.ignored.diverged),
             num(s.ignored.other), num(s.ignored.nonfinite_nll), num(s.ignored.total())});
  }
  {
    Csv c(dir / "frontier_flops.csv", {"dataset", "protocol", "scope", "convention", "run_id",
                                       "arch", "flops", "test_nll", "params", "train_tokens"});
    for (const auto& f : rep.frontier_flops)
      c.row({f.dataset, f.protocol, f.scope, to_string(f.axis), f.run_id, f.arch, num(f.cost),
             num(f.test_nll), num(f.params), num(f.train_tokens)});
  }
  {
    Csv c(dir / "frontier_params.csv",
          {"dataset", "protocol", "scope", "run_id", "arch", "params", "test_nll", "train_tokens"});
    for (const auto& f : rep.frontier_params)
      c.row({f.dataset, f.protocol, f.scope, f.run_id, f.arch, num(f.params), num(f.test_nll),
             num(f.train_tokens)});
  }
  {
    Csv c(dir / "ranking.csv",
          {"convention", "dataset", "protocol", "bucket_lo_log10", "bucket_hi_log10", "rank",
           "arch", "best_nll", "best_run_id", "n_runs"});
    for (const auto& r : rep.ranking)
      c.row({to_string(r.convention), r.dataset, r.protocol, num(r.bucket_lo), num(r.bucket_hi),
             num(r.rank), r.arch, num(r.best_nll), r.best_run_id, num(r.n_runs)});
  }
  {
    Csv c(dir / "ranking_summary.csv",
          {"convention", "dataset", "protocol", "arch", "buckets", "wins", "mean_rank"});
    for (const auto& r : rep.ranking_summary)
      c.row({to_string(r.convention), r.dataset, r.protocol, r.arch, num(r.buckets), num(r.wins),
             num(r.mean_rank)});
  }
  {
    Csv c(dir / "axis_effects.csv", {"axis", "dataset", "protocol", "group", "fixed", "value", "n",
                                     "mean_nll", "min_nll", "max_nll", "std_nll", "best_in_group"});
    for (const auto& r : rep.axis_effects)
      c.row({r.axis, r.dataset, r.protocol, num(r.group), r.fixed, r.value, num(r.n),
             num(r.mean_nll), num(r.min_nll), num(r.max_nll), num(r.std_nll),
             flag(r.best_in_group)});
  }
  {
    Csv c(dir / "axis_summary.csv",
          {"axis", "dataset", "protocol", "value", "groups", "wins", "mean_delta_nll"});
    for (const auto& r : rep.axis_summary)
      c.row(
          {r.axis, r.dataset, r.protocol, r.value, num(r.groups), num(r.wins), num(r.mean_delta)});
  }
  {
    Csv c(dir / "convention_sensitivity.csv",
          {"dataset", "protocol", "run_id", "arch", "test_nll", "flops_study", "flops_kaplan",
           "flops_exact", "frontier_study", "frontier_kaplan", "frontier_exact", "differs"});
    for (const auto& m : rep.membership)
      c.row({m.dataset, m.protocol, m.run_id, m.arch, num(m.test_nll), num(m.flops[0]),
             num(m.flops[1]), num(m.flops[2]), flag(m.on[0]), flag(m.on[1]), flag(m.on[2]),
             flag(!(m.on[0] == m.on[1] && m.on[1] == m.on[2]))});
  }
  {
    Csv c(dir / "bucket_winners.csv",
          {"dataset", "protocol", "bucket_lo_log10", "bucket_hi_log10", "winner_study", "nll_study",
           "winner_kaplan", "nll_kaplan", "winner_exact", "nll_exact", "changed"});
    for (const auto& b : rep.bucket_winners) {
      auto nll = [&](int c) { return b.winner[c].empty() ? std::string() : num(b.best_nll[c]); };
      c.row({b.dataset, b.protocol, num(b.bucket_lo), num(b.bucket_hi), b.winner[0], nll(0),
             b.winner[1], nll(1), b.winner[2], nll(2), flag(b.changed)});
    }
  }
  {
    Csv c(dir / "flops_ratio.csv",
          {"dataset", "protocol", "arch", "n", "study_over_exact", "study_over_exact_min",
           "study_over_exact_max", "kaplan_over_exact", "kaplan_over_exact_min",
           "kaplan_over_exact_max"});
    for (const auto& f : rep.flops_ratios)
      c.row({f.dataset, f.protocol, f.arch, num(f.n), num(f.study_over_exact),
             num(f.study_over_exact_min), num(f.study_over_exact_max), num(f.kaplan_over_exact),
             num(f.kaplan_over_exact_min), num(f.kaplan_over_exact_max)});
  }
  {
    Csv c(dir / "compute_scaled.csv",
          {"dataset", "protocol", "budget", "scaled", "group", "fixed", "layers", "n", "mean_nll",
           "min_nll", "max_nll", "params", "train_tokens", "flops_exact"});
    for (const auto& r : rep.compute_scaled)
      c.row({r.dataset, r.protocol, r.budget, flag(r.scaled), num(r.group), r.fixed, num(r.layers),
             num(r.n), num(r.mean_nll), num(r.min_nll), num(r.max_nll), num(r.params),
             num(r.train_tokens), num(r.flops_exact)});
  }
  {
    Csv c(dir / "compute_verdicts.csv",
          {"dataset", "protocol", "budget", "deep_layers", "deep_nll", "shallow_layers",
           "shallow_nll", "seed_spread", "groups_compared", "groups_deeper_wins", "recovers",
           "verdict"});
    for (const auto& v : rep.compute_verdicts)
      c.row({v.dataset, v.protocol, v.budget, num(v.deep_layers), num(v.deep_nll),
             num(v.shallow_layers), num(v.shallow_nll), num(v.seed_spread), num(v.groups_compared),
             num(v.groups_deeper_wins), flag(v.recovers), v.sentence});
  }
  {
    Csv c(dir / "fit.csv", {"dataset",
                            "protocol",
                            "arch",
                            "runs_used",
                            "status",
                            "runs",
                            "points",
                            "E",
                            "E_lo",
                            "E_hi",
                            "A",
                            "A_lo",
                            "A_hi",
                            "B",
                            "B_lo",
                            "B_hi",
                            "alpha",
                            "alpha_lo",
                            "alpha_hi",
                            "beta",
                            "beta_lo",
                            "beta_hi",
                            "n_exponent",
                            "n_exponent_lo",
                            "n_exponent_hi",
                            "huber_objective",
                            "rmse_log",
                            "max_abs_residual",
                            "bootstrap_ok",
                            "seconds_fit",
                            "seconds_bootstrap",
                            "message"});
    for (const auto& f : rep.fits) {
      const ScalingFit& s = f.fit;
      if (!s.ok) {
        std::vector<std::string> row{f.dataset,    f.protocol,  f.arch,         f.runs_used,
                                     "not_fitted", num(f.runs), num(s.n_points)};
        for (int i = 0; i < 24; ++i) row.push_back("");
        row.push_back(s.message);
        c.row(row);
        continue;
      }
      const double ne = s.beta / (s.alpha + s.beta);
      c.row({f.dataset,
             f.protocol,
             f.arch,
             f.runs_used,
             "fitted",
             num(f.runs),
             num(s.n_points),
             num(s.E),
             num(s.E_ci.lo),
             num(s.E_ci.hi),
             num(s.A),
             num(s.A_ci.lo),
             num(s.A_ci.hi),
             num(s.B),
             num(s.B_ci.lo),
             num(s.B_ci.hi),
             num(s.alpha),
             num(s.alpha_ci.lo),
             num(s.alpha_ci.hi),
             num(s.beta),
             num(s.beta_ci.lo),
             num(s.beta_ci.hi),
             num(ne),
             num(s.n_exponent_ci.lo),
             num(s.n_exponent_ci.hi),
             num(s.objective),
             num(s.rmse_log),
             num(s.max_abs_residual),
             num(s.bootstrap_ok),
             num(s.seconds_fit),
             num(s.seconds_bootstrap),
             s.message});
    }
  }
  {
    Csv c(dir / "fit_points.csv",
          {"dataset", "protocol", "arch", "runs_used", "N", "D", "L", "L_fit", "residual_log"});
    for (const auto& f : rep.fits) {
      if (!f.fit.ok || f.fit.residuals.size() != f.N.size()) continue;
      for (size_t i = 0; i < f.N.size(); ++i)
        c.row({f.dataset, f.protocol, f.arch, f.runs_used, num(f.N[i]), num(f.D[i]), num(f.L[i]),
               num(f.fit.predict(f.N[i], f.D[i])), num(f.fit.residuals[i])});
    }
  }
  {
    Csv c(dir / "compute_optimal.csv",
          {"dataset", "protocol", "arch", "runs_used", "flops_6ND", "n_opt", "d_opt", "loss_opt"});
    for (const auto& f : rep.fits)
      for (const auto& o : f.optimal)
        c.row({f.dataset, f.protocol, f.arch, f.runs_used, num(o.C), num(o.N), num(o.D),
               num(o.loss)});
  }
  {
    Csv c(dir / "curves.csv",
          {"run_id", "step", "tokens", "train_loss", "val_loss", "lr", "seconds"});
    for (const auto& cv : rep.curves)
      for (const auto& p : cv.points)
        c.row({cv.run_id, num(p.step), num(p.tokens), num(p.train_loss), num(p.val_loss), num(p.lr),
               num(p.seconds)});
  }
}

// ---------------------------------------------------------------------------------------------

// Published figures beside ours (written whenever the analysis had reference files).
void write_reference_csv(const AnalysisReport& rep, const fs::path& dir) {
  if (rep.references.empty()) return;
  Csv c(dir / "reference.csv",
        {"reference_file", "table", "label", "metric", "reference", "mean", "sd", "n", "min", "max",
         "diff", "tolerance", "sigmas", "verdict", "why", "match", "note", "run_ids"});
  for (const auto& ref : rep.references)
    for (const auto& r : ref.rows) {
      std::string ids;
      for (const auto& id : r.run_ids) ids += (ids.empty() ? "" : " ") + id;
      c.row({ref.path, r.table, r.label, r.metric, num(r.reference), num(r.mean), num(r.sd),
             num(r.n), num(r.min), num(r.max), num(r.diff), num(r.tolerance), num(r.sigmas),
             r.verdict, r.why, r.match, r.note, ids});
    }
}

using md::write_reference_markdown;

void write_markdown(const AnalysisReport& rep, const fs::path& path) {
  std::ostringstream o;
  const CostAxis main = rep.options.main_convention;
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
    << to_string(main) << "`.\n\n";

  write_reference_markdown(o, rep);

  // Frontiers.
  o << "## Frontier: test NLL vs training FLOPs (" << to_string(main) << ")\n\n"
    << "A run is on the frontier iff no other run has cost <= its cost and NLL < its NLL, or cost "
       "< its cost and NLL <= its NLL; of exact duplicates the smallest run_id is kept. "
       "Per-architecture frontiers and the other conventions are in `frontier_flops.csv`.\n\n";
  for (const auto& s : rep.slices) {
    std::vector<std::vector<std::string>> rows;
    std::map<std::string, int> per_arch;
    for (const auto& f : rep.frontier_flops) {
      if (f.dataset != s.dataset || f.protocol != s.protocol || f.axis != main) continue;
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
  o << "## Architectures at matched FLOPs (" << to_string(main) << ")\n\n"
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

  write_report_file(path, o.str());
}

// ---------------------------------------------------------------------------------------------

nlohmann::ordered_json to_json_ci(const Interval& i) {
  return nlohmann::ordered_json::array(
      {std::isnan(i.lo) ? nlohmann::ordered_json() : nlohmann::ordered_json(i.lo),
       std::isnan(i.hi) ? nlohmann::ordered_json() : nlohmann::ordered_json(i.hi)});
}

// JSON cannot hold NaN or infinity: those become null.
nlohmann::ordered_json jnum(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json();
}

void write_json(const AnalysisReport& rep, const fs::path& path) {
  using J = nlohmann::ordered_json;
  J j;
  j["records"] = rep.records;
  j["usable"] = rep.usable;
  j["ignored"] = J{{"failed", rep.ignored.failed},
                   {"diverged", rep.ignored.diverged},
                   {"other", rep.ignored.other},
                   {"nonfinite_nll", rep.ignored.nonfinite_nll},
                   {"total", rep.ignored.total()}};
  j["main_convention"] = to_string(rep.options.main_convention);
  j["seconds_analysis"] = rep.seconds_analysis;
  j["seconds_fit"] = rep.seconds_fit;
  J slices = J::array();
  for (const auto& s : rep.slices) {
    J js{{"dataset", s.dataset},
         {"protocol", s.protocol},
         {"usable", s.usable},
         {"ignored", J{{"failed", s.ignored.failed},
                       {"diverged", s.ignored.diverged},
                       {"other", s.ignored.other},
                       {"nonfinite_nll", s.ignored.nonfinite_nll}}}};
    J fr;
    for (CostAxis a : kCostAxes) {
      J ids = J::array();
      const auto& table = a == CostAxis::params ? rep.frontier_params : rep.frontier_flops;
      for (const auto& f : table)
        if (f.dataset == s.dataset && f.protocol == s.protocol && f.scope == "all" && f.axis == a)
          ids.push_back(J{
              {"run_id", f.run_id}, {"arch", f.arch}, {"cost", f.cost}, {"test_nll", f.test_nll}});
      fr[to_string(a)] = ids;
    }
    js["frontier"] = fr;
    J ratios;
    for (const auto& f : rep.flops_ratios)
      if (f.dataset == s.dataset && f.protocol == s.protocol)
        ratios[f.arch] = J{{"study_over_exact", jnum(f.study_over_exact)},
                           {"kaplan_over_exact", jnum(f.kaplan_over_exact)}};
    js["flops_ratio"] = ratios;
    int64_t buckets = 0, changed = 0;
    for (const auto& b : rep.bucket_winners)
      if (b.dataset == s.dataset && b.protocol == s.protocol) ++buckets, changed += b.changed;
    js["bucket_winners_changed"] = J{{"buckets", buckets}, {"changed", changed}};
    J wins;
    for (const auto& r : rep.ranking_summary)
      if (r.dataset == s.dataset && r.protocol == s.protocol)
        wins[short_convention(r.convention)][r.arch] =
            J{{"wins", r.wins}, {"buckets", r.buckets}, {"mean_rank", r.mean_rank}};
    js["ranking"] = wins;
    slices.push_back(js);
  }
  j["slices"] = slices;
  j["convention_findings"] = rep.convention_findings;
  J verdicts = J::array();
  for (const auto& v : rep.compute_verdicts)
    verdicts.push_back(J{{"dataset", v.dataset},
                         {"protocol", v.protocol},
                         {"budget", v.budget},
                         {"deep_layers", v.deep_layers},
                         {"deep_nll", v.deep_nll},
                         {"shallow_layers", v.shallow_layers},
                         {"shallow_nll", v.shallow_nll},
                         {"seed_spread", v.seed_spread},
                         {"recovers", v.recovers},
                         {"verdict", v.sentence}});
  j["compute_scaled"] = J{{"verdicts", verdicts}, {"notes", rep.compute_notes}};
  J fits = J::array();
  for (const auto& f : rep.fits) {
    const ScalingFit& s = f.fit;
    J jf{{"dataset", f.dataset},     {"protocol", f.protocol}, {"arch", f.arch},
         {"runs_used", f.runs_used}, {"runs", f.runs},         {"points", s.n_points},
         {"fitted", s.ok},           {"message", s.message}};
    if (s.ok) {
      jf["E"] = s.E, jf["A"] = s.A, jf["B"] = s.B, jf["alpha"] = s.alpha, jf["beta"] = s.beta;
      jf["ci"] = J{{"level", rep.options.fit_options.ci_level},
                   {"E", to_json_ci(s.E_ci)},
                   {"A", to_json_ci(s.A_ci)},
                   {"B", to_json_ci(s.B_ci)},
                   {"alpha", to_json_ci(s.alpha_ci)},
                   {"beta", to_json_ci(s.beta_ci)}};
      jf["rmse_log"] = s.rmse_log, jf["max_abs_residual"] = s.max_abs_residual;
      jf["bootstrap_ok"] = s.bootstrap_ok;
      jf["n_opt_exponent"] = jnum(s.beta / (s.alpha + s.beta));
      J opt = J::array();
      for (const auto& o : f.optimal)
        opt.push_back(J{{"C", o.C}, {"N", jnum(o.N)}, {"D", jnum(o.D)}, {"loss", jnum(o.loss)}});
      jf["compute_optimal"] = opt;
      jf["seconds_fit"] = s.seconds_fit, jf["seconds_bootstrap"] = s.seconds_bootstrap;
    }
    fits.push_back(jf);
  }
  j["fits"] = fits;
  if (!rep.references.empty()) {
    J refs = J::array();
    for (const auto& ref : rep.references) {
      J rows = J::array();
      for (const auto& r : ref.rows)
        rows.push_back(J{{"table", r.table},
                         {"label", r.label},
                         {"metric", r.metric},
                         {"reference", r.reference},
                         {"mean", jnum(r.mean)},
                         {"sd", jnum(r.sd)},
                         {"n", r.n},
                         {"min", jnum(r.min)},
                         {"max", jnum(r.max)},
                         {"diff", jnum(r.diff)},
                         {"tolerance", jnum(r.tolerance)},
                         {"sigmas", r.sigmas},
                         {"verdict", r.verdict},
                         {"why", r.why},
                         {"match", r.match},
                         {"note", r.note},
                         {"run_ids", r.run_ids}});
      refs.push_back(J{{"file", ref.path},
                       {"title", ref.title},
                       {"source", ref.source},
                       {"within", ref.within},
                       {"outside", ref.outside},
                       {"missing", ref.missing},
                       {"ambiguous", ref.ambiguous},
                       {"rows", rows}});
    }
    j["references"] = refs;
  }
  write_report_file(path, j.dump(2) + "\n");
}

}  // namespace

void write_report(const AnalysisReport& report, const std::string& out_dir) {
  const fs::path dir(out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("write_report: cannot create " + out_dir + ": " + ec.message());
  std::vector<std::pair<fs::path, std::string>> files;
  g_report_files = &files;
  try {
    write_report_file(dir / kReportMark,
                      "This directory was written by `tinyfront analyze`, which may replace its "
                      "files.\n");
    write_csvs(report, dir);
    write_reference_csv(report, dir);
    write_markdown(report, dir / "report.md");
    write_json(report, dir / "analysis.json");
  } catch (...) {
    g_report_files = nullptr;
    throw;
  }
  g_report_files = nullptr;
  for (auto& [path, text] : files)
    check_may_write(path.string(), {"report file", OutputKind::file, false,
                                    [](const std::string&) { return true; }});
  for (auto& [path, text] : files) write_file_atomically(path.string(), text);
}

bool is_report_directory(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(fs::path(dir) / kReportMark, ec)) return true;
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec) && !ec;
}

}  // namespace tinyfront
