// analysis.json: every table of the analysis for programs (NaN and infinity as null).
#include <cmath>
#include <nlohmann/json.hpp>

#include "markdown.hpp"
#include "report_parts.hpp"

namespace tinyfront {

namespace {

nlohmann::ordered_json to_json_ci(const Interval& i) {
  return nlohmann::ordered_json::array(
      {std::isnan(i.lo) ? nlohmann::ordered_json() : nlohmann::ordered_json(i.lo),
       std::isnan(i.hi) ? nlohmann::ordered_json() : nlohmann::ordered_json(i.hi)});
}

// JSON cannot hold NaN or infinity: those become null.
nlohmann::ordered_json jnum(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json();
}

}  // namespace

std::string json_report(const AnalysisReport& rep) {
  using J = nlohmann::ordered_json;
  J j;
  j["records"] = rep.records;
  j["usable"] = rep.usable;
  j["ignored"] = J{{"failed", rep.ignored.failed},
                   {"diverged", rep.ignored.diverged},
                   {"other", rep.ignored.other},
                   {"nonfinite_nll", rep.ignored.nonfinite_nll},
                   {"total", rep.ignored.total()}};
  j["main_convention"] = to_string(flops_axis(rep.options.main_convention));
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
        wins[to_string(r.convention)][r.arch] =
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
  return j.dump(2) + "\n";
}

}  // namespace tinyfront
