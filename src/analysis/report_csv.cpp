// The report's CSV tables: every table of the analysis, all rows (report.md shows the first few).
#include <cmath>
#include <sstream>

#include "markdown.hpp"
#include "report_parts.hpp"
#include "tinyfront/util/csv.hpp"

namespace tinyfront {

namespace fs = std::filesystem;

namespace {

using md::flag;
using md::num;

// A CSV file: a header, then rows; fields quoted as RFC 4180 asks (util/csv.hpp).
// The text goes to the report's files when the table is complete.
class Csv {
 public:
  Csv(ReportFiles& files, const fs::path& path, const std::vector<std::string>& header)
      : files_(files), path_(path) {
    row(header);
  }
  void row(const std::vector<std::string>& fields) {
    for (size_t i = 0; i < fields.size(); ++i) {
      if (i) out_ << ',';
      out_ << csv_quote(fields[i]);
    }
    out_ << '\n';
  }
  ~Csv() {
    if (std::uncaught_exceptions() == 0) files_.add(path_, out_.str());
  }

 private:
  ReportFiles& files_;
  fs::path path_;
  std::ostringstream out_;
};

}  // namespace

void write_csvs(const AnalysisReport& rep, const fs::path& dir, ReportFiles& files) {
  {
    Csv c(files, dir / "runs.csv",
          {"run_id",
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
    Csv c(files, dir / "slices.csv",
          {"dataset", "protocol", "usable", "failed", "diverged", "other", "nonfinite_nll",
           "ignored"});
    for (const auto& s : rep.slices)
      c.row({s.dataset, s.protocol, num(s.usable), num(s.ignored.failed), num(s.ignored.diverged),
             num(s.ignored.other), num(s.ignored.nonfinite_nll), num(s.ignored.total())});
  }
  {
    Csv c(files, dir / "frontier_flops.csv",
          {"dataset", "protocol", "scope", "convention", "run_id", "arch", "flops", "test_nll",
           "params", "train_tokens"});
    for (const auto& f : rep.frontier_flops)
      c.row({f.dataset, f.protocol, f.scope, to_string(f.axis), f.run_id, f.arch, num(f.cost),
             num(f.test_nll), num(f.params), num(f.train_tokens)});
  }
  {
    Csv c(files, dir / "frontier_params.csv",
          {"dataset", "protocol", "scope", "run_id", "arch", "params", "test_nll", "train_tokens"});
    for (const auto& f : rep.frontier_params)
      c.row({f.dataset, f.protocol, f.scope, f.run_id, f.arch, num(f.params), num(f.test_nll),
             num(f.train_tokens)});
  }
  {
    Csv c(files, dir / "ranking.csv",
          {"convention", "dataset", "protocol", "bucket_lo_log10", "bucket_hi_log10", "rank",
           "arch", "best_nll", "best_run_id", "n_runs"});
    for (const auto& r : rep.ranking)
      c.row({to_string(flops_axis(r.convention)), r.dataset, r.protocol, num(r.bucket_lo),
             num(r.bucket_hi), num(r.rank), r.arch, num(r.best_nll), r.best_run_id, num(r.n_runs)});
  }
  {
    Csv c(files, dir / "ranking_summary.csv",
          {"convention", "dataset", "protocol", "arch", "buckets", "wins", "mean_rank"});
    for (const auto& r : rep.ranking_summary)
      c.row({to_string(flops_axis(r.convention)), r.dataset, r.protocol, r.arch, num(r.buckets),
             num(r.wins), num(r.mean_rank)});
  }
  {
    Csv c(files, dir / "axis_effects.csv",
          {"axis", "dataset", "protocol", "group", "fixed", "value", "n", "mean_nll", "min_nll",
           "max_nll", "std_nll", "best_in_group"});
    for (const auto& r : rep.axis_effects)
      c.row({r.axis, r.dataset, r.protocol, num(r.group), r.fixed, r.value, num(r.n),
             num(r.mean_nll), num(r.min_nll), num(r.max_nll), num(r.std_nll),
             flag(r.best_in_group)});
  }
  {
    Csv c(files, dir / "axis_summary.csv",
          {"axis", "dataset", "protocol", "value", "groups", "wins", "mean_delta_nll"});
    for (const auto& r : rep.axis_summary)
      c.row(
          {r.axis, r.dataset, r.protocol, r.value, num(r.groups), num(r.wins), num(r.mean_delta)});
  }
  {
    Csv c(files, dir / "convention_sensitivity.csv",
          {"dataset", "protocol", "run_id", "arch", "test_nll", "flops_study", "flops_kaplan",
           "flops_exact", "frontier_study", "frontier_kaplan", "frontier_exact", "differs"});
    for (const auto& m : rep.membership)
      c.row({m.dataset, m.protocol, m.run_id, m.arch, num(m.test_nll), num(m.flops[0]),
             num(m.flops[1]), num(m.flops[2]), flag(m.on[0]), flag(m.on[1]), flag(m.on[2]),
             flag(!(m.on[0] == m.on[1] && m.on[1] == m.on[2]))});
  }
  {
    Csv c(files, dir / "bucket_winners.csv",
          {"dataset", "protocol", "bucket_lo_log10", "bucket_hi_log10", "winner_study", "nll_study",
           "winner_kaplan", "nll_kaplan", "winner_exact", "nll_exact", "changed"});
    for (const auto& b : rep.bucket_winners) {
      auto nll = [&](int c) { return b.winner[c].empty() ? std::string() : num(b.best_nll[c]); };
      c.row({b.dataset, b.protocol, num(b.bucket_lo), num(b.bucket_hi), b.winner[0], nll(0),
             b.winner[1], nll(1), b.winner[2], nll(2), flag(b.changed)});
    }
  }
  {
    Csv c(files, dir / "flops_ratio.csv",
          {"dataset", "protocol", "arch", "n", "study_over_exact", "study_over_exact_min",
           "study_over_exact_max", "kaplan_over_exact", "kaplan_over_exact_min",
           "kaplan_over_exact_max"});
    for (const auto& f : rep.flops_ratios)
      c.row({f.dataset, f.protocol, f.arch, num(f.n), num(f.study_over_exact),
             num(f.study_over_exact_min), num(f.study_over_exact_max), num(f.kaplan_over_exact),
             num(f.kaplan_over_exact_min), num(f.kaplan_over_exact_max)});
  }
  {
    Csv c(files, dir / "compute_scaled.csv",
          {"dataset", "protocol", "budget", "scaled", "group", "fixed", "layers", "n", "mean_nll",
           "min_nll", "max_nll", "params", "train_tokens", "flops_exact"});
    for (const auto& r : rep.compute_scaled)
      c.row({r.dataset, r.protocol, r.budget, flag(r.scaled), num(r.group), r.fixed, num(r.layers),
             num(r.n), num(r.mean_nll), num(r.min_nll), num(r.max_nll), num(r.params),
             num(r.train_tokens), num(r.flops_exact)});
  }
  {
    Csv c(files, dir / "compute_verdicts.csv",
          {"dataset", "protocol", "budget", "deep_layers", "deep_nll", "shallow_layers",
           "shallow_nll", "seed_spread", "groups_compared", "groups_deeper_wins", "recovers",
           "verdict"});
    for (const auto& v : rep.compute_verdicts)
      c.row({v.dataset, v.protocol, v.budget, num(v.deep_layers), num(v.deep_nll),
             num(v.shallow_layers), num(v.shallow_nll), num(v.seed_spread), num(v.groups_compared),
             num(v.groups_deeper_wins), flag(v.recovers), v.sentence});
  }
  {
    Csv c(files, dir / "fit.csv",
          {"dataset",
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
    Csv c(files, dir / "fit_points.csv",
          {"dataset", "protocol", "arch", "runs_used", "N", "D", "L", "L_fit", "residual_log"});
    for (const auto& f : rep.fits) {
      if (!f.fit.ok || f.fit.residuals.size() != f.N.size()) continue;
      for (size_t i = 0; i < f.N.size(); ++i)
        c.row({f.dataset, f.protocol, f.arch, f.runs_used, num(f.N[i]), num(f.D[i]), num(f.L[i]),
               num(f.fit.predict(f.N[i], f.D[i])), num(f.fit.residuals[i])});
    }
  }
  {
    Csv c(files, dir / "compute_optimal.csv",
          {"dataset", "protocol", "arch", "runs_used", "flops_6ND", "n_opt", "d_opt", "loss_opt"});
    for (const auto& f : rep.fits)
      for (const auto& o : f.optimal)
        c.row({f.dataset, f.protocol, f.arch, f.runs_used, num(o.C), num(o.N), num(o.D),
               num(o.loss)});
  }
  {
    Csv c(files, dir / "curves.csv",
          {"run_id", "step", "tokens", "train_loss", "val_loss", "lr", "seconds"});
    for (const auto& cv : rep.curves)
      for (const auto& p : cv.points)
        c.row({cv.run_id, num(p.step), num(p.tokens), num(p.train_loss), num(p.val_loss), num(p.lr),
               num(p.seconds)});
  }
}

// Published figures beside ours (written whenever the analysis had reference files).
void write_reference_csv(const AnalysisReport& rep, const fs::path& dir, ReportFiles& files) {
  if (rep.references.empty()) return;
  Csv c(files, dir / "reference.csv",
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

}  // namespace tinyfront
