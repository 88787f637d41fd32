// Job and sweep specs: every kind of bad input is a clear error naming file, line, key and reason,
// found before any compute; grids expand as written; budgets resolve as documented.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tinyfront/model/model.hpp"
#include "tinyfront/run/budget_rule.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/spec/job_spec.hpp"
#include "tinyfront/spec/sweep_spec.hpp"
#include "tinyfront/sweep/budget_limits.hpp"
#include "tinyfront/train/trainer.hpp"

using namespace tinyfront;
namespace fs = std::filesystem;

namespace {

// Writes text to a fresh file in a per-test temporary directory and returns its path.
std::string write_spec(const std::string& name, const std::string& text) {
  fs::path dir = fs::temp_directory_path() / ("tinyfront_spec_" + std::to_string(getpid()));
  fs::create_directories(dir);
  fs::path p = dir / name;
  std::ofstream(p) << text;
  return p.string();
}

const std::string kData =
    std::string("path = \"") + TINYFRONT_SOURCE_DIR + "/data/tinyshakespeare.txt\"\n";

// Returns the error text of loading a job spec, or "" if it loads.
std::string job_error(const std::string& text, std::vector<std::string> sets = {}) {
  std::string p = write_spec("job.toml", text);
  try {
    load_job_spec(p, sets);
    return "";
  } catch (const SpecError& e) {
    return e.what();
  }
}

std::string sweep_error(const std::string& text) {
  std::string p = write_spec("sweep.toml", text);
  try {
    load_sweep_spec(p);
    return "";
  } catch (const SpecError& e) {
    return e.what();
  }
}

}  // namespace

TEST(JobSpec, MissingFile) {
  try {
    load_job_spec("/nonexistent/job.toml");
    FAIL();
  } catch (const SpecError& e) {
    EXPECT_EQ(std::string(e.what()), "/nonexistent/job.toml: no such file");
  }
}

TEST(JobSpec, SyntaxErrorCarriesLineAndColumn) {
  std::string e = job_error("[model]\narch = \"linear\"\ncontext = = 3\n");
  EXPECT_NE(e.find("job.toml:3:"), std::string::npos) << e;
  EXPECT_NE(e.find("TOML syntax error"), std::string::npos) << e;
}

TEST(JobSpec, UnknownKeyWrongTypeOutOfRangeAllReportedAtOnce) {
  std::string e = job_error(
      "[model]\n"
      "arch = \"linear\"\n"
      "contxt = 8\n"         // line 3: unknown key
      "d_model = \"big\"\n"  // line 4: wrong type
      "[train]\n"
      "lr = -1.0\n"    // line 6: out of range
      "batch = 0\n");  // line 7: out of range
  EXPECT_NE(e.find("job.toml:3:1: model.contxt: unknown key"), std::string::npos) << e;
  EXPECT_NE(e.find("job.toml:4:11: model.d_model: expected an integer, got a string"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("job.toml:6:6: train.lr: must be in (0, 10], got -1"), std::string::npos) << e;
  EXPECT_NE(e.find("job.toml:7:9: train.batch: must be in [1, 65536], got 0"), std::string::npos)
      << e;
}

TEST(JobSpec, UnknownEnumValueAndSection) {
  std::string e = job_error("[model]\narch = \"lstm\"\n[optim]\nlr = 1\n");
  EXPECT_NE(e.find("model.arch: unknown value \"lstm\" (expected linear, mlp, attention, "
                   "transformer)"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("optim: unknown section"), std::string::npos) << e;
}

TEST(JobSpec, HeadsMustDivideDModel) {
  std::string e = job_error("[model]\narch = \"transformer\"\nd_model = 128\nheads = 3\n");
  EXPECT_NE(e.find("model.heads: must divide model.d_model (128), got 3"), std::string::npos) << e;
}

TEST(JobSpec, SetOverridesAndReportsBadOverrides) {
  std::string p = write_spec("ok.toml", "[data]\n" + kData + "[model]\narch = \"linear\"\n");
  RunConfig c = load_job_spec(p, {"model.context=24", "train.lr=0.01", "model.arch=mlp"});
  EXPECT_EQ(c.model.context, 24);
  EXPECT_DOUBLE_EQ(c.train.lr, 0.01);
  EXPECT_EQ(c.model.arch, Arch::mlp);
  std::string e = job_error("[model]\narch = \"linear\"\n", {"model.context=abc"});
  EXPECT_NE(e.find("model.context: expected an integer, got a string (from --set)"),
            std::string::npos)
      << e;
  e = job_error("", {"nodot=1"});
  EXPECT_NE(e.find("expected section.key=value"), std::string::npos) << e;
}

TEST(RunId, StableAndIgnoresIrrelevantFields) {
  RunConfig a;
  a.model.arch = Arch::linear;
  RunConfig b = a;
  b.model.layers = 7;   // a linear model has no layers
  b.train.threads = 8;  // how it runs is not what it is
  EXPECT_EQ(run_id(a), run_id(b));
  b.model.context = 3;
  EXPECT_NE(run_id(a), run_id(b));
  EXPECT_EQ(run_id(a).size(), 16u);
  // Round trip through the canonical JSON.
  RunConfig c = config_from_json(nlohmann::json::parse(config_to_json(a).dump()));
  EXPECT_EQ(run_id(c), run_id(a));
}

TEST(RunId, InitAndGeluTanhAreRecordedAndHashed) {
  std::string p = write_spec("init.toml", "[data]\n" + kData +
                                              "[model]\narch = \"transformer\"\ninit = \"gpt2\"\n"
                                              "activation = \"gelu_tanh\"\n");
  RunConfig g = load_job_spec(p);
  EXPECT_EQ(g.model.init, Init::gpt2);
  EXPECT_EQ(g.model.activation, Activation::gelu_tanh);
  auto j = config_to_json(g);
  EXPECT_EQ(j["model"]["init"], "gpt2");
  EXPECT_EQ(j["model"]["activation"], "gelu_tanh");
  RunConfig back = config_from_json(nlohmann::json::parse(j.dump()));
  EXPECT_EQ(back.model.init, Init::gpt2);
  EXPECT_EQ(back.model.activation, Activation::gelu_tanh);
  EXPECT_EQ(run_id(back), run_id(g));
  // The default (torch) is left out of the hash: run ids of configs written before the field
  // existed are unchanged. gpt2 is another run.
  RunConfig t = g;
  t.model.init = Init::torch;
  EXPECT_NE(run_id(t), run_id(g));
  auto old = config_to_json(t);
  old["model"].erase("init");  // a record from before model.init
  RunConfig from_old = config_from_json(nlohmann::json::parse(old.dump()));
  EXPECT_EQ(from_old.model.init, Init::torch);
  EXPECT_EQ(run_id(from_old), run_id(t));
  std::string e = job_error("[model]\ninit = \"xavier\"\n");
  EXPECT_NE(e.find("model.init"), std::string::npos) << e;
  EXPECT_NE(e.find("torch, gpt2"), std::string::npos) << e;
}

TEST(JobSpec, MaxTokensIsThreeCountsAndRoundTrips) {
  std::string e = job_error("[data]\n" + kData + "max_tokens = [1000, -2, 0]\n");
  EXPECT_NE(e.find("job.toml:3:21: data.max_tokens: token counts must be integers >= 0"),
            std::string::npos)
      << e;
  e = job_error("[data]\n" + kData + "max_tokens = 5000\n");
  EXPECT_NE(e.find("data.max_tokens: expected [train, valid, test] token counts (0 = whole "
                   "split), got an integer"),
            std::string::npos)
      << e;
  std::string p = write_spec("cut.toml", "[data]\n" + kData + "max_tokens = [5000, 0, 700]\n");
  RunConfig c = load_job_spec(p);
  EXPECT_EQ(c.data.max_tokens, (std::vector<int64_t>{5000, 0, 700}));
  RunConfig back = config_from_json(nlohmann::json::parse(config_to_json(c).dump()));
  EXPECT_EQ(back.data.max_tokens, c.data.max_tokens);
  RunConfig whole = c;
  whole.data.max_tokens = {0, 0, 0};
  EXPECT_NE(run_id(c), run_id(whole));
  // Configs stored before the field existed read as "whole splits".
  auto j = nlohmann::json::parse(config_to_json(c).dump());
  j["data"].erase("max_tokens");
  EXPECT_EQ(config_from_json(j).data.max_tokens, (std::vector<int64_t>{0, 0, 0}));
}

TEST(SweepSpec, GridSubgridsExcludeIncludeExpand) {
  std::string p = write_spec("grid.toml", "[defaults]\ndata." + kData +
                                              "model.arch = \"linear\"\n"
                                              "model.d_model = 16\n"
                                              "[grid]\n"
                                              "model.context = [8, 16]\n"
                                              "train.lr = [1e-3, 3e-3, 1e-2]\n"
                                              "[[subgrid]]\n"
                                              "name = \"linear\"\n"
                                              "set.model.arch = \"linear\"\n"
                                              "[[subgrid]]\n"
                                              "name = \"transformers\"\n"
                                              "set.model.arch = \"transformer\"\n"
                                              "grid.model.layers = [1, 2]\n"
                                              "grid.model.heads = [2, 4]\n"
                                              "[[exclude]]\n"
                                              "model.arch = \"transformer\"\n"
                                              "model.context = 16\n"
                                              "train.lr = [1e-2, 3e-3]\n"
                                              "[[include]]\n"
                                              "model.arch = \"mlp\"\n"
                                              "model.hidden = [32, 32]\n");
  SweepSpec s = load_sweep_spec(p);
  // linear: 2 x 3 = 6; transformer: 2 x 3 x 2 x 2 = 24 minus (context 16, two lrs) 2 x 4 = 8;
  // one included mlp.
  ASSERT_EQ(s.runs.size(), 6u + 16u + 1u);
  EXPECT_EQ(s.runs.front().model.arch, Arch::linear);
  EXPECT_EQ(s.runs.back().model.arch, Arch::mlp);
  EXPECT_EQ(s.runs.back().model.hidden, (std::vector<int>{32, 32}));
  int transformers = 0;
  for (auto& r : s.runs)
    if (r.model.arch == Arch::transformer) {
      ++transformers;
      EXPECT_FALSE(r.model.context == 16 && r.train.lr > 2e-3);
    }
  EXPECT_EQ(transformers, 16);
  EXPECT_EQ(s.corpora.size(), 1u);
}

TEST(SweepSpec, DuplicatePointsAreOneRun) {
  std::string p = write_spec("dup.toml", "[defaults]\ndata." + kData +
                                             "model.arch = \"linear\"\n"
                                             "[grid]\nmodel.layers = [1, 2, 3]\n");
  EXPECT_EQ(load_sweep_spec(p).runs.size(), 1u);  // layers do not apply to a linear model
}

TEST(SweepSpec, TokensPerParamBudget) {
  std::string p = write_spec("tpp.toml", "[defaults]\ndata." + kData +
                                             "model.arch = \"transformer\"\n"
                                             "model.d_model = 32\nmodel.heads = 4\n"
                                             "model.ff = 64\nmodel.context = 32\n"
                                             "train.protocol = \"causal\"\n"
                                             "[grid]\nmodel.layers = [1, 2]\n"
                                             "[budget]\nmode = \"tokens_per_param\"\n"
                                             "tokens_per_param = [10, 20]\n");
  SweepSpec s = load_sweep_spec(p);
  ASSERT_EQ(s.runs.size(), 4u);
  for (auto& r : s.runs) {
    ModelConfig m = r.model;
    m.vocab = 65;
    double k = r.train.budget == "tokens_per_param=10" ? 10 : 20;
    auto rule = parse_budget_label(r.train.budget);
    ASSERT_TRUE(rule) << r.train.budget;
    EXPECT_EQ(rule->mode, BudgetMode::tokens_per_param);
    EXPECT_EQ(rule->value, k);
    EXPECT_EQ(to_label(*rule), r.train.budget);
    // tokens rounded up to whole windows of T predicted tokens
    double want = k * count_params(m);
    EXPECT_GE(r.train.tokens, want);
    EXPECT_LT(r.train.tokens, want + 32);
  }
}

TEST(SweepSpec, IsoFlopBudgetMatchesTarget) {
  std::string p = write_spec("iso.toml", "[defaults]\ndata." + kData +
                                             "model.arch = \"linear\"\nmodel.d_model = 16\n"
                                             "train.epochs = 2\n"
                                             "[grid]\nmodel.context = [8, 32]\n"
                                             "[budget]\nmode = \"iso_flops\"\n"
                                             "iso_flops = [1e11]\nconvention = \"study\"\n");
  SweepSpec s = load_sweep_spec(p);
  ASSERT_EQ(s.runs.size(), 2u);
  for (auto& r : s.runs) {
    PlannedCost c = planned_cost(r, s.corpora.begin()->second);
    EXPECT_NEAR(c.flops_study / 1e11, 1.0, 0.01) << r.model.context;
    EXPECT_EQ(r.train.budget, "iso_flops=1e+11(study)");
    auto rule = parse_budget_label(r.train.budget);
    ASSERT_TRUE(rule);
    EXPECT_EQ(rule->mode, BudgetMode::iso_flops);
    EXPECT_EQ(rule->value, 1e11);
    EXPECT_EQ(rule->convention, FlopConvention::study);
    EXPECT_EQ(to_label(*rule), r.train.budget);
  }
}

TEST(SweepSpec, ScaledEpochsFollowParameterRatio) {
  std::string p = write_spec("scaled.toml", "[defaults]\ndata." + kData +
                                                "model.arch = \"transformer\"\nmodel.d_model = 32\n"
                                                "model.heads = 4\nmodel.ff = 64\n"
                                                "model.context = 16\ntrain.epochs = 2\n"
                                                "[grid]\nmodel.layers = [2, 4]\n"
                                                "[budget]\nmode = \"scaled_epochs\"\n"
                                                "reference.model.layers = 2\n");
  SweepSpec s = load_sweep_spec(p);
  ASSERT_EQ(s.runs.size(), 2u);
  EXPECT_EQ(s.runs[0].train.epochs, 2);
  ModelConfig m2 = s.runs[0].model, m4 = s.runs[1].model;
  m2.vocab = m4.vocab = 65;
  int want = int(std::lround(2.0 * count_params(m4) / count_params(m2)));
  EXPECT_EQ(s.runs[1].train.epochs, want);
  EXPECT_GT(want, 2);
  // The label carries the model's own ratio; the group (what analysis matches on) does not.
  for (auto& r : s.runs) {
    auto rule = parse_budget_label(r.train.budget);
    ASSERT_TRUE(rule) << r.train.budget;
    EXPECT_EQ(rule->mode, BudgetMode::scaled_epochs);
    EXPECT_EQ(to_label(*rule), r.train.budget);
    EXPECT_EQ(budget_group(r.train.budget), "scaled_epochs");
  }
}

TEST(BudgetRule, LabelsRoundTripAndOthersAreRefused) {
  for (const char* label :
       {"fixed", "tokens_per_param=20", "tokens_per_param=0.5", "iso_flops=1e+15(study)",
        "iso_flops=2e+11(exact)", "iso_flops=6e+12(kaplan)", "scaled_epochs(x1.31)",
        "scaled_epochs(x4)"}) {
    auto rule = parse_budget_label(label);
    ASSERT_TRUE(rule) << label;
    EXPECT_EQ(to_label(*rule), label);
  }
  for (const char* bad :
       {"", "fixed ", "tokens_per_param=", "tokens_per_param=x", "iso_flops=1e15",
        "iso_flops=1e15(flat)", "scaled_epochs(1.3)", "scaled_epochs(x1.3", "budget"})
    EXPECT_FALSE(parse_budget_label(bad)) << bad;
  EXPECT_EQ(budget_group("scaled_epochs(x2.5)"), "scaled_epochs");
  EXPECT_EQ(budget_group("iso_flops=1e+15(study)"), "iso_flops=1e+15(study)");
  EXPECT_EQ(budget_group("fixed"), "fixed");
}

// A table of bad sweep specs, each with the message it must produce.
TEST(SweepSpec, BadSpecsTable) {
  struct Case {
    std::string text, expected;
  };
  std::vector<Case> cases = {
      {"[defaults]\ndata." + kData + "[grid]\nmodel.contxt = [1]\n",
       "sweep.toml:4:17: model.contxt: unknown key"},
      {"[defaults]\ndata." + kData + "[grid]\nmodel.context = [8, \"x\"]\n",
       "sweep.toml:4:21: model.context: expected an integer, got a string"},
      {"[defaults]\ndata." + kData + "model.arch = \"transformer\"\n[grid]\nmodel.heads = [3]\n",
       "model.heads: must divide model.d_model (128), got 3"},
      {"[defaults]\ndata.path = \"/nonexistent/corpus.txt\"\n",
       "sweep.toml: data.path: no such file or directory: /nonexistent/corpus.txt"},
      {"[defaults]\ndata." + kData +
           "model.context = 200\n"
           "data.split = [0.9998, 0.0001, 0.0001]\n",
       "model.context: 200 is longer than a split"},
      {"[sweep]\nthreads_per_rank = 0\n",
       "sweep.toml:2:20: sweep.threads_per_rank: expected an integer in [1, 1024], got 0"},
      {"[swep]\n", "sweep.toml:1:1: swep: unknown section"},
      {"[defaults]\ndata." + kData + "[budget]\nmode = \"tokens_per_param\"\n",
       "budget.tokens_per_param: give at least one value for this mode"},
      {"[defaults]\ndata." + kData + "[budget]\nmode = \"chinchilla\"\n",
       "sweep.toml:4:8: budget.mode: expected fixed, tokens_per_param, iso_flops, scaled_epochs"},
      {"[grid\n", "TOML syntax error"},
  };
  for (auto& c : cases) {
    std::string e = sweep_error(c.text);
    EXPECT_NE(e.find(c.expected), std::string::npos)
        << "spec:\n"
        << c.text << "\nexpected: " << c.expected << "\ngot: " << e;
  }
}

TEST(SweepSpec, AllErrorsAtOnce) {
  std::string e = sweep_error("[defaults]\ndata." + kData +
                              "model.d_model = -1\n[grid]\ntrain.lr = [0.0]\n[sweep]\nbogus = 1\n");
  EXPECT_NE(e.find("model.d_model"), std::string::npos) << e;
  EXPECT_NE(e.find("train.lr"), std::string::npos) << e;
  EXPECT_NE(e.find("sweep.bogus"), std::string::npos) << e;
}

TEST(SweepSpec, ShardsPartitionTheGrid) {
  std::string p = write_spec("shard.toml", "[defaults]\ndata." + kData +
                                               "model.arch = \"linear\"\n"
                                               "[grid]\nmodel.context = [2,3,4,5,6,7,8,9]\n"
                                               "train.lr = [1e-3, 2e-3, 3e-3]\n");
  SweepSpec s = load_sweep_spec(p);
  int in0 = 0, in1 = 0;
  for (auto& r : s.runs) {
    bool a = in_shard(run_id(r), 0, 2), b = in_shard(run_id(r), 1, 2);
    EXPECT_NE(a, b);
    in0 += a, in1 += b;
  }
  EXPECT_EQ(in0 + in1, 24);
  EXPECT_GT(in0, 4);
  EXPECT_GT(in1, 4);
}

// data.max_tokens is an axis like data.split, and the plan sees the cut corpus: a
// tokens-per-parameter budget is sized on it and a context longer than a cut split is refused.
TEST(SweepSpec, MaxTokensAxisAndCutCorpusSizes) {
  std::string p =
      write_spec("cut.toml", "[defaults]\ndata." + kData +
                                 "model.arch = \"linear\"\nmodel.context = 16\n"
                                 "[grid]\ndata.max_tokens = [[3000, 0, 0], [0, 0, 0]]\n");
  SweepSpec s = load_sweep_spec(p);
  ASSERT_EQ(s.runs.size(), 2u);
  EXPECT_NE(run_id(s.runs[0]), run_id(s.runs[1]));
  const CorpusInfo& cut = s.corpora.at(data_key(s.runs[0].data));
  const CorpusInfo& whole = s.corpora.at(data_key(s.runs[1].data));
  EXPECT_EQ(cut.train, 3000);
  EXPECT_GT(whole.train, 900'000);
  EXPECT_EQ(cut.valid, whole.valid);
  EXPECT_EQ(cut.vocab, whole.vocab);
  std::string e = sweep_error("[defaults]\ndata." + kData +
                              "data.max_tokens = [0, 0, 100]\nmodel.context = 128\n");
  EXPECT_NE(e.find("model.context: 128 is longer than a split"), std::string::npos) << e;
}

TEST(SweepSpec, QuickSweepShipsAndExpands) {
  SweepSpec s = load_sweep_spec(std::string(TINYFRONT_SOURCE_DIR) + "/sweeps/quick.toml");
  EXPECT_EQ(s.runs.size(), 16u);  // 4 architectures x 2 contexts x 2 learning rates
}

// One limit check for plan, sweep and submit: each limit with its numbers, and the wall time
// never below the longest run.
TEST(SweepSpec, BudgetLimitsNameWhatIsExceededWithTheNumbers) {
  std::string p = write_spec("limits.toml",
                             "[sweep]\nflops_convention = \"exact\"\n"
                             "[defaults]\ndata." +
                                 kData +
                                 "model.arch = \"mlp\"\nmodel.context = 8\n"
                                 "[grid]\ntrain.lr = [1e-3, 2e-3, 3e-3]\n"
                                 "model.d_model = [16, 32]\n");
  SweepSpec s = load_sweep_spec(p);
  ASSERT_EQ(s.runs.size(), 6u);
  const SweepCost cost = sweep_cost(s, s.runs, 1e9);
  EXPECT_EQ(cost.runs, 6);
  double total = 0, largest = 0, longest = 0;
  for (auto& r : s.runs) {
    const CorpusInfo& ci = s.corpora.at(data_key(r.data));
    total += planned_cost(r, ci).flops_exact;
    largest = std::max(largest, planned_cost(r, ci).flops_exact);
    longest = std::max(longest, estimate_seconds(r, ci, 1e9) / 3600);
  }
  EXPECT_DOUBLE_EQ(cost.total_flops, total);
  EXPECT_DOUBLE_EQ(cost.largest_run_flops, largest);
  EXPECT_DOUBLE_EQ(cost.wall_hours(1000), longest);  // more workers than runs
  EXPECT_DOUBLE_EQ(cost.wall_hours(1), cost.run_hours);

  EXPECT_TRUE(exceeded_limits(s.settings, cost, 1).empty());  // no limits set
  SweepSettings lim = s.settings;
  lim.max_total_flops = total / 2;
  lim.max_run_flops = largest * 2;  // not exceeded
  lim.max_hours = cost.run_hours / 4;
  std::vector<std::string> over = exceeded_limits(lim, cost, 2);
  ASSERT_EQ(over.size(), 2u);
  EXPECT_NE(over[0].find("total exact FLOPs"), std::string::npos) << over[0];
  EXPECT_NE(over[0].find("exceed sweep.max_total_flops"), std::string::npos) << over[0];
  EXPECT_NE(over[1].find("on 2 workers exceed sweep.max_hours"), std::string::npos) << over[1];
  EXPECT_TRUE(exceeded_limits(lim, cost, 8).size() == 1u);  // 8 workers: within max_hours
}
