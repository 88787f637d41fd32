// analyze_runs and write_report on record sets built in memory: ignored runs, frontiers per slice
// and architecture, axis effects with seed spread, FLOP-convention sensitivity, the compute-scaled
// verdict, the fit inside the analysis, the files of a report, and a 100k-run benchmark.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tinyfront/analysis/analysis.hpp"
#include "tinyfront/analysis/grouping.hpp"
#include "tinyfront/analysis/report.hpp"
#include "tinyfront/analysis/run_table.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/util/rng.hpp"

using namespace tinyfront;
namespace fs = std::filesystem;

namespace {

// FLOP accounting of a made-up run: the study's 2*P*tokens over- or understates the exact count
// by roughly these factors (T/3 for linear/MLP at T = 128; ~1/3 for attention blocks).
double study_over_exact(Arch a) {
  return a == Arch::linear || a == Arch::mlp ? 128.0 / 3.0 : 1.0 / 3.0;
}

struct RunSpec {
  std::string dataset = "tiny";
  Protocol protocol = Protocol::paper;
  Arch arch = Arch::transformer;
  int layers = 2;
  double lr = 1e-3;
  uint64_t seed = 0;
  std::string budget = "fixed";
  int epochs = 4;
  double params = 1e5;
  double tokens = 1e7;
  double nll = 2.0;
  RunStatus status = RunStatus::done;
};

RunRecord make_run(const RunSpec& s) {
  RunRecord r;
  RunConfig& c = r.config;
  c.data.name = s.dataset;
  c.train.protocol = s.protocol;
  c.model.arch = s.arch;
  c.model.layers = s.layers;
  c.train.lr = s.lr;
  c.train.seed = s.seed;
  c.train.budget = s.budget;
  c.train.epochs = s.epochs;
  r.run_id = run_id(c);
  TrainResult& t = r.result;
  t.status = s.status;
  t.params = int64_t(s.params);
  t.params_non_embedding = int64_t(0.9 * s.params);
  t.train_tokens = int64_t(s.tokens);
  t.train_targets = s.protocol == Protocol::paper ? int64_t(s.tokens / 128) : int64_t(s.tokens);
  t.flops_study = 2 * double(t.params) * double(t.train_tokens);
  t.flops_kaplan = 6 * double(t.params_non_embedding) * double(t.train_targets);
  t.flops_exact = t.flops_study / study_over_exact(s.arch);
  t.test_nll = s.nll;
  t.best_val_nll = s.nll;
  for (int k = 1; k <= 3; ++k)
    t.curve.push_back(
        {k * 100, int64_t(k * s.tokens / 3), s.nll + 1.0 / k, s.nll + 0.5 / k, 1e-3, double(k)});
  return r;
}

const FrontierRow* find_frontier(const AnalysisReport& rep, const std::string& scope, CostAxis axis,
                                 const std::string& run_id) {
  for (const auto& f : (axis == CostAxis::params ? rep.frontier_params : rep.frontier_flops))
    if (f.scope == scope && f.axis == axis && f.run_id == run_id) return &f;
  return nullptr;
}

AnalysisOptions quick() {
  AnalysisOptions o;
  o.fit = false;
  return o;
}

}  // namespace

TEST(Analysis, IgnoresFailedAndDivergedRunsAndCountsThem) {
  std::vector<RunRecord> recs;
  RunSpec s;
  for (int i = 0; i < 5; ++i) {
    s.seed = uint64_t(i), s.nll = 2.0 - 0.1 * i;
    recs.push_back(make_run(s));
  }
  // A diverged run with a (meaningless) tiny loss, a failed one, one still pending, one done with
  // a NaN NLL: none may appear anywhere.
  s.seed = 10, s.nll = 0.01, s.status = RunStatus::diverged;
  recs.push_back(make_run(s));
  s.seed = 11, s.status = RunStatus::failed;
  recs.push_back(make_run(s));
  s.seed = 12, s.status = RunStatus::pending;
  recs.push_back(make_run(s));
  s.seed = 13, s.status = RunStatus::preempted;
  recs.push_back(make_run(s));
  s.seed = 14, s.status = RunStatus::done, s.nll = NAN;
  recs.push_back(make_run(s));

  AnalysisReport rep = analyze_runs(recs, quick());
  EXPECT_EQ(rep.records, 10);
  EXPECT_EQ(rep.usable, 5);
  EXPECT_EQ(rep.ignored.failed, 1);
  EXPECT_EQ(rep.ignored.diverged, 1);
  EXPECT_EQ(rep.ignored.other, 2);
  EXPECT_EQ(rep.ignored.nonfinite_nll, 1);
  EXPECT_EQ(rep.ignored.total(), 5);
  ASSERT_EQ(rep.slices.size(), 1u);
  EXPECT_EQ(rep.slices[0].usable, 5);
  EXPECT_EQ(rep.slices[0].ignored.diverged, 1);
  EXPECT_EQ(rep.runs.size(), 5u);
  for (const auto& r : rep.runs) EXPECT_TRUE(std::isfinite(r.test_nll)) << r.run_id;
  for (const auto& f : rep.frontier_flops)
    EXPECT_GE(f.test_nll, 1.5) << "an ignored run is on a frontier";
  // The report says so in words.
  const fs::path dir = fs::path(testing::TempDir()) / "tinyfront_analysis_ignored";
  fs::remove_all(dir);
  write_report(rep, dir.string());
  std::ifstream md(dir / "report.md");
  std::string text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text.find("5 ignored: 1 failed, 1 diverged, 2 other"), std::string::npos)
      << text.substr(0, 400);
  EXPECT_NE(text.find("1 done with a non-finite test NLL"), std::string::npos);
}

TEST(Analysis, FrontiersPerSliceAndArchitecture) {
  std::vector<RunRecord> recs;
  // Slice tiny/paper: an MLP that is cheap under the study's FLOPs only, transformers.
  RunSpec s;
  s.arch = Arch::mlp, s.params = 1e5, s.tokens = 1e6, s.nll = 2.5;  // study 2e11, exact 4.7e9
  recs.push_back(make_run(s));
  s.arch = Arch::transformer, s.layers = 1, s.params = 1e5, s.tokens = 1e6,
  s.nll = 2.4;  // study 2e11
  recs.push_back(make_run(s));
  s.layers = 2, s.params = 2e5, s.tokens = 1e6, s.nll = 2.2;  // study 4e11
  recs.push_back(make_run(s));
  s.layers = 3, s.params = 3e5, s.tokens = 1e6, s.nll = 2.3;  // study 6e11, worse: off
  recs.push_back(make_run(s));
  // Another slice (causal protocol) with a better loss must not affect the first.
  s.protocol = Protocol::causal, s.layers = 2, s.params = 1e4, s.nll = 1.0;
  recs.push_back(make_run(s));

  AnalysisReport rep = analyze_runs(recs, quick());
  ASSERT_EQ(rep.slices.size(), 2u);
  const std::string mlp = recs[0].run_id, t1 = recs[1].run_id, t2 = recs[2].run_id,
                    t3 = recs[3].run_id;
  // Study FLOPs: mlp and t1 cost the same, t1 is better -> mlp off; t2 on; t3 off.
  EXPECT_EQ(find_frontier(rep, "all", CostAxis::flops_study, mlp), nullptr);
  EXPECT_NE(find_frontier(rep, "all", CostAxis::flops_study, t1), nullptr);
  EXPECT_NE(find_frontier(rep, "all", CostAxis::flops_study, t2), nullptr);
  EXPECT_EQ(find_frontier(rep, "all", CostAxis::flops_study, t3), nullptr);
  // Exact FLOPs: the MLP is ~128x cheaper than the transformer, so it is on.
  EXPECT_NE(find_frontier(rep, "all", CostAxis::flops_exact, mlp), nullptr);
  // Its own architecture's frontier always has it.
  EXPECT_NE(find_frontier(rep, "mlp", CostAxis::flops_study, mlp), nullptr);
  // Params: mlp and t1 have equal params; t1 wins.
  EXPECT_EQ(find_frontier(rep, "all", CostAxis::params, mlp), nullptr);
  EXPECT_NE(find_frontier(rep, "all", CostAxis::params, t1), nullptr);
  // The causal run is only on its own slice's frontier.
  const FrontierRow* causal = find_frontier(rep, "all", CostAxis::flops_study, recs[4].run_id);
  ASSERT_NE(causal, nullptr);
  EXPECT_EQ(causal->protocol, "causal");
  for (const auto& f : rep.frontier_flops)
    if (f.protocol == "paper") {
      EXPECT_NE(f.run_id, recs[4].run_id);
    }
  // Curves of the frontier runs are carried into the report.
  bool has_t2 = false;
  for (const auto& c : rep.curves) has_t2 = has_t2 || c.run_id == t2;
  EXPECT_TRUE(has_t2);
}

TEST(Analysis, ConventionSensitivityFindsChangedMembersAndRatios) {
  std::vector<RunRecord> recs;
  RunSpec s;
  s.arch = Arch::mlp, s.params = 1e5, s.tokens = 1e6, s.nll = 2.5;
  recs.push_back(make_run(s));
  s.arch = Arch::transformer, s.layers = 1, s.nll = 2.4;
  recs.push_back(make_run(s));
  AnalysisReport rep = analyze_runs(recs, quick());
  // The MLP is on the exact frontier only.
  bool found = false;
  for (const auto& m : rep.membership)
    if (m.run_id == recs[0].run_id) {
      found = true;
      EXPECT_FALSE(m.on[0]);
      EXPECT_TRUE(m.on[2]);
    }
  EXPECT_TRUE(found);
  // Same bucket (2e11 study FLOPs) under study: transformer wins; under exact the MLP (4.7e9)
  // and the transformer (6e11) fall in different buckets, so each wins its own.
  bool any_changed = false;
  for (const auto& b : rep.bucket_winners) any_changed = any_changed || b.changed;
  EXPECT_TRUE(any_changed);
  // FLOP ratios per architecture.
  for (const auto& f : rep.flops_ratios) {
    if (f.arch == "mlp") {
      EXPECT_NEAR(f.study_over_exact, 128.0 / 3.0, 1e-9);
    } else if (f.arch == "transformer") {
      EXPECT_NEAR(f.study_over_exact, 1.0 / 3.0, 1e-9);
    }
  }
  std::string all;
  for (const auto& f : rep.convention_findings) all += f + "\n";
  EXPECT_NE(all.find("only exact"), std::string::npos) << all;
  EXPECT_NE(all.find("mlp 42.7x"), std::string::npos) << all;
}

TEST(Analysis, AxisEffectsGroupOtherFieldsAndReportSeedSpread) {
  std::vector<RunRecord> recs;
  RunSpec s;
  // layers x lr x seed; NLL = 2 - 0.05 layers + 10 |lr - 1e-3| + seed noise.
  for (int L : {1, 2, 3})
    for (double lr : {1e-3, 3e-3})
      for (uint64_t seed : {0, 1, 2}) {
        s.layers = L, s.lr = lr, s.seed = seed;
        s.params = 1e5 * L;
        s.nll = 2.0 - 0.05 * L + 10 * std::abs(lr - 1e-3) + 0.01 * double(seed);
        recs.push_back(make_run(s));
      }
  AnalysisReport rep = analyze_runs(recs, quick());
  EXPECT_NE(std::find(rep.axes.begin(), rep.axes.end(), "model.layers"), rep.axes.end());
  EXPECT_NE(std::find(rep.axes.begin(), rep.axes.end(), "train.lr"), rep.axes.end());
  EXPECT_EQ(std::find(rep.axes.begin(), rep.axes.end(), "train.seed"), rep.axes.end());
  int rows = 0;
  for (const auto& r : rep.axis_effects) {
    if (r.axis != "model.layers") continue;
    ++rows;
    EXPECT_EQ(r.n, 3);  // three seeds
    EXPECT_NEAR(r.max_nll - r.min_nll, 0.02, 1e-12);
    const int L = std::stoi(r.value);
    const double lr = r.fixed.find("lr=0.003") != std::string::npos ? 3e-3 : 1e-3;
    EXPECT_NEAR(r.mean_nll, 2.0 - 0.05 * L + 10 * std::abs(lr - 1e-3) + 0.01, 1e-12) << r.fixed;
    EXPECT_EQ(r.best_in_group, L == 3);
  }
  EXPECT_EQ(rows, 6);  // 2 lr groups x 3 depths
  for (const auto& r : rep.axis_summary)
    if (r.axis == "model.layers" && r.value == "3") {
      EXPECT_EQ(r.groups, 2);
      EXPECT_EQ(r.wins, 2);
      EXPECT_NEAR(r.mean_delta, 0.0, 1e-12);
    }
  // Only the axes asked for; lr = 1e-3 wins every (layers) group.
  AnalysisOptions only_lr = quick();
  only_lr.axes = {"train.lr"};
  AnalysisReport rep_lr = analyze_runs(recs, only_lr);
  EXPECT_EQ(rep_lr.axes, std::vector<std::string>{"train.lr"});
  for (const auto& r : rep_lr.axis_summary) {
    EXPECT_EQ(r.axis, "train.lr");
    EXPECT_EQ(r.groups, 3);
    EXPECT_EQ(r.wins, r.value == "0.001" ? 3 : 0);
  }
}

TEST(Analysis, ComputeScaledVerdictWithNumbers) {
  std::vector<RunRecord> recs;
  RunSpec s;
  // Fixed budget: the deeper model is undertrained (worse). Scaled (tokens_per_param=20): it
  // recovers. Scaled runs of different depths differ in epochs (the budget derives it), which
  // must not keep them apart.
  for (uint64_t seed : {0, 1}) {
    s.seed = seed;
    s.budget = "fixed", s.epochs = 4;
    s.layers = 2, s.nll = 1.85 + 0.002 * double(seed);
    recs.push_back(make_run(s));
    s.layers = 4, s.nll = 1.95 + 0.002 * double(seed);
    recs.push_back(make_run(s));
    s.budget = "tokens_per_param=20";
    s.layers = 2, s.epochs = 3, s.nll = 1.85 + 0.002 * double(seed);
    recs.push_back(make_run(s));
    s.layers = 4, s.epochs = 6, s.nll = 1.83 + 0.002 * double(seed);
    recs.push_back(make_run(s));
    // scaled_epochs labels carry a per-size ratio; they are one rule.
    s.budget = "scaled_epochs(x1)", s.layers = 2, s.epochs = 4, s.nll = 1.84 + 0.002 * double(seed);
    recs.push_back(make_run(s));
    s.budget = "scaled_epochs(x1.9)", s.layers = 4, s.epochs = 8,
    s.nll = 1.86 + 0.002 * double(seed);
    recs.push_back(make_run(s));
  }
  AnalysisReport rep = analyze_runs(recs, quick());
  ASSERT_EQ(rep.compute_verdicts.size(), 2u);
  for (const auto& v : rep.compute_verdicts) {
    SCOPED_TRACE(v.sentence);
    EXPECT_EQ(v.deep_layers, 4);
    EXPECT_EQ(v.shallow_layers, 2);
    EXPECT_EQ(v.groups_compared, 1);
    if (v.budget == "tokens_per_param=20") {
      EXPECT_TRUE(v.recovers);
      EXPECT_NE(v.sentence.find("L=4 recovers: 1.831 vs 1.851 (best L=2)"), std::string::npos);
      EXPECT_NE(
          v.sentence.find("under the fixed budget (best over its grid): L=4 1.951 vs L=2 1.851"),
          std::string::npos);
    } else {
      EXPECT_EQ(v.budget, "scaled_epochs");
      EXPECT_FALSE(v.recovers);
      EXPECT_NE(v.sentence.find("L=4 does not recover: 1.861 vs 1.841"), std::string::npos);
    }
  }
  // The table has fixed rows (for reference) and scaled rows, two seeds each.
  int scaled = 0, fixed = 0;
  for (const auto& r : rep.compute_scaled) {
    EXPECT_EQ(r.n, 2);
    (r.scaled ? scaled : fixed) += 1;
  }
  EXPECT_EQ(scaled, 4);
  EXPECT_EQ(fixed, 2);
  // Without scaled runs the report says the check had nothing to compare.
  std::vector<RunRecord> only_fixed(recs.begin(), recs.begin() + 2);
  AnalysisReport rep2 = analyze_runs(only_fixed, quick());
  EXPECT_TRUE(rep2.compute_verdicts.empty());
  ASSERT_EQ(rep2.compute_notes.size(), 1u);
}

TEST(Analysis, ConfigFieldsMatchConfigToJson) {
  // The fast flattener must agree with the canonical JSON, field by field, for every arch.
  for (Arch a : {Arch::linear, Arch::mlp, Arch::attention, Arch::transformer}) {
    RunConfig c;
    c.model.arch = a;
    c.model.one_hot = a == Arch::linear;
    c.model.positions = Positions::rope;
    c.train.schedule = Schedule::cosine;
    c.train.lr = 3e-4;
    c.train.eps = 1e-8;
    c.model.rope_base = 10000.0;
    c.train.budget = "tokens_per_param=20";
    c.model.dropout = 0.1;  // the linear model has none: 0 in both
    auto fast = config_fields(c);
    std::vector<std::pair<std::string, nlohmann::ordered_json>> slow;
    const auto canonical = config_to_json(c);
    for (auto& [section, obj] : canonical.items())
      for (auto& [key, v] : obj.items()) slow.emplace_back(section + "." + key, v);
    ASSERT_EQ(fast.size(), slow.size());
    for (size_t i = 0; i < fast.size(); ++i) {
      EXPECT_EQ(fast[i].first, slow[i].first);
      const auto& v = slow[i].second;
      if (v.is_string())
        EXPECT_EQ(fast[i].second, v.get<std::string>()) << fast[i].first;
      else
        EXPECT_EQ(nlohmann::json::parse(fast[i].second), v)
            << fast[i].first << " " << fast[i].second;
    }
  }
}

TEST(Analysis, GroupingMasksBudgetDerivedFields) {
  RunSpec s;
  s.budget = "scaled_epochs(x1.5)", s.epochs = 6;
  RunRecord a = make_run(s);
  s.budget = "scaled_epochs(x2)", s.epochs = 8;
  RunRecord b = make_run(s);
  s.budget = "fixed", s.epochs = 8;
  RunRecord c = make_run(s);
  ConfigColumns cols = config_columns({&a.config, &b.config, &c.config});
  GroupingColumns g = grouping_columns(cols);
  std::vector<char> use(g.names.size(), 1);
  int64_t n = 0;
  auto groups = group_rows(g, use, {0, 1, 2}, n);
  EXPECT_EQ(n, 2);
  EXPECT_EQ(groups[0], groups[1]);
  EXPECT_NE(groups[0], groups[2]);
  EXPECT_EQ(g.value(g.field("train.budget"), 1), "scaled_epochs");
  EXPECT_EQ(g.value(g.field("train.epochs"), 0), "(set by budget)");
  EXPECT_EQ(g.value(g.field("train.epochs"), 2), "8");
}

TEST(Analysis, FitsTheLawOfSyntheticRuns) {
  // Transformer runs whose NLL follows a known law over (params, tokens), two seeds each plus a
  // bad learning rate that the point rule (best config per (N, D)) must see past.
  std::vector<RunRecord> recs;
  Rng rng(5);
  const double E = 1.7, A = 400, B = 1500, alpha = 0.34, beta = 0.28;
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 7; ++j) {
      RunSpec s;
      s.layers = 1 + i, s.epochs = 1 + j;
      s.params = std::pow(10.0, 3 + i);
      s.tokens = std::pow(10.0, 5 + j);
      const double law = E + A / std::pow(s.params, alpha) + B / std::pow(s.tokens, beta);
      for (uint64_t seed : {0, 1}) {
        s.seed = seed, s.lr = 1e-3, s.nll = law * std::exp(0.005 * rng.normal());
        recs.push_back(make_run(s));
      }
      s.seed = 0, s.lr = 1e-1, s.nll = law * 1.3;
      recs.push_back(make_run(s));
    }
  AnalysisOptions opt;
  opt.fit_options.bootstrap_reps = 50;
  AnalysisReport rep = analyze_runs(recs, opt);
  ASSERT_EQ(rep.fits.size(), 1u);
  const FitRow& f = rep.fits[0];
  ASSERT_TRUE(f.fit.ok) << f.fit.message;
  EXPECT_EQ(f.runs, 49 * 3);
  EXPECT_EQ(f.fit.n_points, 49);
  EXPECT_NEAR(f.fit.alpha, alpha, 0.05 * alpha);
  EXPECT_NEAR(f.fit.beta, beta, 0.05 * beta);
  EXPECT_NEAR(f.fit.E, E, 0.05 * E);
  EXPECT_FALSE(f.optimal.empty());
  EXPECT_GT(rep.seconds_fit, 0.0);
}

TEST(Analysis, TooFewRunsAreNotFittedAndSaySo) {
  std::vector<RunRecord> recs;
  RunSpec s;
  for (int L = 1; L <= 4; ++L) {
    s.layers = L, s.params = 1e5 * L, s.nll = 2.0 - 0.1 * L;
    recs.push_back(make_run(s));
  }
  AnalysisReport rep = analyze_runs(recs);
  ASSERT_EQ(rep.fits.size(), 1u);
  EXPECT_FALSE(rep.fits[0].fit.ok);
  EXPECT_NE(rep.fits[0].fit.message.find("4 distinct (N, D) points, fewer than 10"),
            std::string::npos)
      << rep.fits[0].fit.message;
}
