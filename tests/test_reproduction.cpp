// REPRODUCTION.md (tinyfront analyze --reproduction): the study's questions answered from runs.
// A made-up study with the structure of the real one (paper and causal protocols, learned and
// rotary positions, fixed and compute-scaled depth, an iso-FLOP grid beside other runs of the
// same architecture) checks what each section says; a real sweep on 2 MPI ranks checks the
// command line (the file regenerates, a user's file is never replaced).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mpi_helpers.hpp"
#include "tinyfront/analysis/analysis.hpp"
#include "tinyfront/analysis/reproduction.hpp"
#include "tinyfront/util/rng.hpp"

using namespace tinyfront;
using namespace tinyfront::testing_support;
namespace fs = std::filesystem;

namespace {

struct MadeUpStudy {
  std::vector<RunRecord> records;
  int serial = 0;
  Rng rng{7};

  RunRecord& add(Arch arch, int layers, int d_model, const std::string& protocol,
                 Positions positions, const std::string& budget, double tokens, uint64_t seed) {
    RunRecord r;
    RunConfig& c = r.config;
    c.data.name = "tiny";
    c.model.arch = arch, c.model.layers = layers, c.model.d_model = d_model;
    c.model.heads = 4, c.model.ff = 2 * d_model, c.model.positions = positions;
    c.train.protocol = protocol == "paper" ? Protocol::paper : Protocol::causal;
    c.train.seed = seed, c.train.budget = budget;
    c.train.tokens = int64_t(tokens);
    char id[17];
    std::snprintf(id, sizeof id, "run%05d", serial++);
    r.run_id = id;
    r.host = "h", r.rank = 1 + int(seed % 2);
    TrainResult& t = r.result;
    const double blocks = arch == Arch::attention ? 1 : layers;
    const double P = arch == Arch::linear ? 65.0 * 128 * d_model
                     : arch == Arch::mlp  ? 128.0 * d_model * 256 + 256 * 256 + 256 * 65
                                          : blocks * 12.0 * d_model * d_model + 193.0 * d_model;
    t.params = int64_t(P), t.params_non_embedding = int64_t(0.9 * P);
    t.train_tokens = int64_t(tokens), t.train_targets = int64_t(tokens);
    t.flops_study = 2 * P * tokens, t.flops_kaplan = 6 * 0.9 * P * tokens;
    t.flops_exact = 6 * P * tokens;
    const double offset = arch == Arch::linear ? 0.5 : arch == Arch::mlp ? 0.25 : 0.0;
    // Causal training sees every position: lower loss, same order of architectures.
    const double proto = protocol == "causal" ? -0.1 : 0.0;
    const double rope = positions == Positions::rope ? 0.03 : 0.0;
    const double law = 1.5 + 30 / std::pow(P, 0.35) + 200 / std::pow(tokens, 0.3);
    t.test_nll = (law + offset + proto + rope) * std::exp(0.002 * rng.normal());
    t.best_val_nll = t.test_nll;
    t.wall_seconds = 2.0;
    t.status = RunStatus::done;
    records.push_back(std::move(r));
    return records.back();
  }

  MadeUpStudy() {
    for (const char* protocol : {"paper", "causal"})
      for (uint64_t s : {0, 1}) {
        add(Arch::linear, 0, 64, protocol, Positions::learned, "fixed", 1e6, s);
        add(Arch::mlp, 0, 64, protocol, Positions::learned, "fixed", 1e6, s);
        add(Arch::attention, 1, 64, protocol, Positions::learned, "fixed", 1e6, s);
        add(Arch::transformer, 3, 64, protocol, Positions::learned, "fixed", 1e6, s);
        add(Arch::transformer, 3, 64, protocol, Positions::rope, "fixed", 1e6, s);
      }
    // Compute-scaled depth (tokens per parameter): the deeper model gets more tokens.
    for (uint64_t s : {0, 1})
      for (int L : {2, 4})
        add(Arch::transformer, L, 64, "paper", Positions::learned, "tokens_per_param=20",
            20.0 * (L * 12.0 * 64 * 64 + 193.0 * 64), s);
    // An iso-FLOP grid: 5 widths x 3 budgets, each width's tokens = C / (6 N).
    for (double C : {1e11, 1e12, 1e13})
      for (int d : {16, 24, 32, 48, 64}) {
        const double P = 2 * 12.0 * d * d + 193.0 * d;
        char budget[40];
        std::snprintf(budget, sizeof budget, "iso_flops=%g(exact)", C);
        add(Arch::transformer, 2, d, "causal", Positions::learned, budget, C / (6 * P), 0);
      }
  }
};

}  // namespace

TEST(Reproduction, EachQuestionHasItsTableFromTheRuns) {
  MadeUpStudy study;
  AnalysisOptions ao;
  ao.fit_options.bootstrap_reps = 20;
  ReferenceFile ref;
  ref.title = "A made-up study";
  ao.references.push_back(ref);
  const AnalysisReport rep = analyze_runs(study.records, ao);

  // The iso-FLOP runs get a fit of their own: exactly the 15 iso-FLOP runs, besides the fit over
  // every causal transformer run (which also holds the ranking runs).
  const FitRow* iso = nullptr;
  const FitRow* all = nullptr;
  for (const auto& f : rep.fits) {
    if (f.protocol != "causal" || f.arch != "transformer") continue;
    (f.runs_used == "iso_flops" ? iso : all) = &f;
  }
  ASSERT_NE(iso, nullptr);
  ASSERT_NE(all, nullptr);
  EXPECT_EQ(iso->runs, 15);
  EXPECT_EQ(all->runs, 15 + 4);
  ASSERT_TRUE(iso->fit.ok) << iso->fit.message;
  // The law it was made from: alpha 0.35, beta 0.3 (noise is small).
  EXPECT_NEAR(iso->fit.alpha, 0.35, 0.1);
  EXPECT_NEAR(iso->fit.beta, 0.3, 0.1);
  // Paper-protocol transformers have no iso-FLOP runs: no second fit.
  for (const auto& f : rep.fits) {
    if (f.protocol == "paper") {
      EXPECT_EQ(f.runs_used, "all");
    }
  }

  ReproductionInputs in;
  in.command = "tinyfront analyze r.h5 --reference ref.toml --out rep --reproduction R.md";
  in.plots_link = "rep/plots";
  in.files = {summarise_results_file("r.h5", study.records)};
  in.plan_flops_per_second = 1e10;
  const std::string md = reproduction_markdown(rep, in);

  EXPECT_TRUE(md.rfind("<!-- Generated by tinyfront analyze --reproduction.", 0) == 0);
  EXPECT_NE(md.find("# Reproduction: A made-up study"), std::string::npos);
  EXPECT_NE(md.find("    " + in.command + "\n"), std::string::npos);
  // Wall time: 39 runs of 2 s on two workers.
  EXPECT_EQ(in.files[0].runs, int64_t(study.records.size()));
  EXPECT_EQ(in.files[0].workers, 2);
  EXPECT_NE(md.find("| `r.h5` | 39 | 39 | 0.0217 | 2 | 0.0108 | 3.98 |"), std::string::npos) << md;
  for (const char* heading : {"## Q1.", "## Q2.", "## Q3.", "## Q4.", "### Learned positions"})
    EXPECT_NE(md.find(heading), std::string::npos) << heading;
  // Q1: the winners table and its plot.
  EXPECT_NE(md.find("| FLOPs bucket | study (2PT) | kaplan (6ND) | exact |"), std::string::npos);
  EXPECT_NE(md.find("(rep/plots/nll_vs_flops_conventions_tiny_paper.png)"), std::string::npos);
  // Q2: the deeper model with the larger budget is compared with the shallower one.
  EXPECT_NE(md.find("| tiny/paper | tokens_per_param=20 | L=4 "), std::string::npos) << md;
  EXPECT_NE(md.find("(rep/plots/compute_scaled_tiny_paper.png)"), std::string::npos);
  // Q3: same order of architectures under both protocols (made so): 6 of 6 pairs agree, and
  // RoPE is worse than learned positions in both.
  EXPECT_NE(md.find("| linear | "), std::string::npos);
  EXPECT_NE(md.find("6 of 6 pairs of architectures are ordered the same way under both "
                    "protocols: the ranking holds."),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| tiny/causal | rope | 1 | 0 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| tiny/paper | learned | 1 | 1 | 0.0000 |"), std::string::npos) << md;
  // Q4: our fit beside the published ones, tokens per parameter at each compute.
  EXPECT_NE(md.find("| Chinchilla (Hoffmann et al. 2022) | 1.69 | 406 | 411 | 0.3400 | 0.2800 |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| C = 6ND (FLOPs) | N* | D* | D*/N* (tokens per parameter) |"),
            std::string::npos);
  EXPECT_NE(md.find("(rep/plots/scaling_law_tiny_causal_transformer_iso_flops.png)"),
            std::string::npos);
}

TEST(Reproduction, PlotSlugIsThePlotScriptsSlug) {
  // analysis/plot_report.py: re.sub(r"[^A-Za-z0-9.=-]+", "-", p).strip("-"), joined by "_".
  EXPECT_EQ(plot_slug({"tinyshakespeare-paper", "paper"}), "tinyshakespeare-paper_paper");
  EXPECT_EQ(plot_slug({"a b//c", "--x y--", "é"}), "a-b-c_x-y_");
  EXPECT_EQ(plot_slug({"ptb", "causal", "transformer"}), "ptb_causal_transformer");
}

TEST(Reproduction, CommandLineWritesRegeneratesAndNeverReplacesAUsersFile) {
  TempDir dir("reproduction");
  const std::string spec = dir.file("s.toml",
                                    "[sweep]\nname = \"r\"\n[defaults]\n"
                                    "data.name = \"tiny\"\ndata.path = \"" +
                                        shakespeare_path() +
                                        "\"\nmodel.arch = \"linear\"\n"
                                        "model.d_model = 8\nmodel.context = 2\n"
                                        "train.epochs = 1\ntrain.windows_per_epoch = "
                                        "320\ntrain.batch = 32\ntrain.eval_windows = "
                                        "100\n[grid]\ntrain.seed = [0, 1]\n");
  const std::string results = dir.file("r.h5");
  CommandResult r = run_command(mpiexec(2, "sweep " + spec + " --out " + results + " --quiet"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::string ref = dir.file(
      "ref.toml",
      "[reference]\ntitle = \"T\"\n[match]\ndata.name = \"tiny\"\n[[table]]\nname = \"A\"\n"
      "  [[table.row]]\n  label = \"linear\"\n  match.model.arch = \"linear\"\n  test_nll = 3.0\n");
  const std::string out = (dir.path / "rep").string();
  const std::string repro = (dir.path / "R.md").string();
  const std::string tf = TINYFRONT_BINARY;
  const std::string args = "analyze " + results + " --reference " + ref + " --out " + out +
                           " --no-plots --no-fit --reproduction " + repro;

  // Without --reference there is nothing to reproduce: refused before any work.
  r = run_command(tf + " analyze " + results + " --out " + out + " --reproduction " + repro);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--reproduction: needs the study's figures (--reference FILE)"),
            std::string::npos)
      << r.output;
  EXPECT_FALSE(fs::exists(repro));

  r = run_command(tf + " " + args);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream f(repro);
  std::stringstream text;
  text << f.rdbuf();
  EXPECT_NE(text.str().find("    tinyfront " + args.substr(0, args.find(" --no-plots"))),
            std::string::npos)
      << text.str();
  EXPECT_NE(text.str().find("| `" + results + "` | 2 | 2 |"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find("(rep/plots/"), std::string::npos);  // relative to R.md
  // Its own file is replaced on the next run.
  r = run_command(tf + " " + args);
  EXPECT_EQ(r.exit_code, 0) << r.output;

  // A user's file is not replaced without --force.
  {
    std::ofstream user(repro);
    user << "my notes\n";
  }
  r = run_command(tf + " " + args);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("R.md"), std::string::npos) << r.output;
  std::ifstream back(repro);
  std::string first;
  std::getline(back, first);
  EXPECT_EQ(first, "my notes");
}
