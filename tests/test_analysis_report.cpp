// write_report's files, analysis/plot_report.py on a real report (PNG pixel sizes read from the
// IHDR chunk), and a benchmark of the analysis of 100,000 runs (timings printed, not asserted).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tinyfront/analysis/analysis.hpp"
#include "tinyfront/analysis/report.hpp"
#include "tinyfront/util/rng.hpp"

using namespace tinyfront;
namespace fs = std::filesystem;

namespace {

// A made-up grid search: every architecture, transformers of depth 1-4 under a fixed and a
// tokens-per-parameter budget, three learning rates, two seeds, plus failed and diverged runs.
// NLL follows E + A/N^alpha + B/D^beta with an architecture offset and a learning-rate penalty,
// so that frontiers, rankings, axis effects and the fit all have something to find.
std::vector<RunRecord> grid_search(uint64_t seed) {
  std::vector<RunRecord> recs;
  Rng rng(seed);
  int serial = 0;
  auto add = [&](Arch arch, int layers, int d_model, int epochs, double lr, uint64_t run_seed,
                 const std::string& budget) {
    RunRecord r;
    RunConfig& c = r.config;
    c.data.name = "tiny";
    c.model.arch = arch, c.model.layers = layers, c.model.d_model = d_model;
    c.model.heads = 4, c.model.ff = 2 * d_model;
    c.train.epochs = epochs, c.train.lr = lr, c.train.seed = run_seed, c.train.budget = budget;
    char id[17];
    std::snprintf(id, sizeof id, "run%05d", serial++);
    r.run_id = id;
    TrainResult& t = r.result;
    const double blocks = arch == Arch::attention ? 1 : layers;
    const double P = arch == Arch::linear ? 65.0 * 128 * d_model
                     : arch == Arch::mlp  ? 128.0 * d_model * 256 + 256 * 256 + 256 * 65
                                          : blocks * 12.0 * d_model * d_model + 193.0 * d_model;
    t.params = int64_t(P);
    t.params_non_embedding = int64_t(0.9 * P);
    t.train_tokens = int64_t(epochs) * 50'000 * 128;
    t.train_targets = t.train_tokens / 128;
    t.flops_study = 2 * P * double(t.train_tokens);
    t.flops_kaplan = 6 * 0.9 * P * double(t.train_targets);
    const bool attn = arch == Arch::attention || arch == Arch::transformer;
    t.flops_exact = t.flops_study / (attn ? 1.0 / 3.0 : 128.0 / 3.0);
    const double offset = arch == Arch::linear ? 0.3 : arch == Arch::mlp ? 0.15 : 0.0;
    const double law = 1.2 + 20 / std::pow(P, 0.3) + 60 / std::pow(double(t.train_tokens), 0.25);
    t.test_nll =
        (law + offset + 0.1 * std::abs(std::log10(lr / 1e-3))) * std::exp(0.004 * rng.normal());
    t.best_val_nll = t.test_nll + 0.01;
    t.status = RunStatus::done;
    for (int k = 1; k <= 4; ++k)
      t.curve.push_back({k * 1000, k * t.train_tokens / 4, t.test_nll + 0.8 / k,
                         t.test_nll + 0.4 / k, lr, 10.0 * k});
    recs.push_back(std::move(r));
  };
  for (double lr : {3e-4, 1e-3, 3e-3})
    for (uint64_t s : {0, 1})
      for (int epochs : {1, 2, 4, 8}) {
        add(Arch::linear, 0, 64, epochs, lr, s, "fixed");
        add(Arch::mlp, 0, 64, epochs, lr, s, "fixed");
        for (int d : {32, 64}) add(Arch::attention, 1, d, epochs, lr, s, "fixed");
        for (int L : {2, 3, 4})
          for (int d : {32, 64}) add(Arch::transformer, L, d, epochs, lr, s, "fixed");
      }
  // Scaled budget: epochs grow with depth (as a tokens-per-parameter rule would).
  for (uint64_t s : {0, 1})
    for (int L : {2, 4}) add(Arch::transformer, L, 64, L, 1e-3, s, "tokens_per_param=20");
  // Runs that must be ignored.
  add(Arch::transformer, 4, 64, 1, 1e-1, 0, "fixed");
  recs.back().result.status = RunStatus::diverged;
  recs.back().result.test_nll = NAN;
  add(Arch::mlp, 0, 64, 1, 1e-3, 7, "fixed");
  recs.back().result.status = RunStatus::failed;
  return recs;
}

struct PngSize {
  uint32_t width = 0, height = 0;
  bool ok = false;
};

// Width and height from the IHDR chunk: 8-byte signature, chunk length, "IHDR", then two
// big-endian 32-bit integers.
PngSize png_size(const fs::path& path) {
  std::ifstream f(path, std::ios::binary);
  unsigned char b[24];
  PngSize s;
  if (!f.read(reinterpret_cast<char*>(b), sizeof b)) return s;
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (std::memcmp(b, sig, 8) != 0 || std::memcmp(b + 12, "IHDR", 4) != 0) return s;
  auto be32 = [](const unsigned char* p) {
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
  };
  s.width = be32(b + 16), s.height = be32(b + 20), s.ok = true;
  return s;
}

// A Python that can import matplotlib: $TINYFRONT_PYTHON, python3 on PATH, or the system one
// (a pyenv python3 first on PATH may lack the Debian packages /usr/bin/python3 has).
std::string python_with_matplotlib(std::string& tried) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("TINYFRONT_PYTHON")) candidates.push_back(env);
  candidates.push_back("python3");
  candidates.push_back("/usr/bin/python3");
  for (const auto& py : candidates) {
    tried += (tried.empty() ? "" : ", ") + py;
    const std::string cmd = py + " -c 'import matplotlib, numpy' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) == 0) return py;
  }
  return "";
}

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::path(testing::TempDir()) / name;
  fs::remove_all(dir);
  return dir;
}

}  // namespace

TEST(AnalysisReport, WritesEveryFile) {
  auto recs = grid_search(1);
  AnalysisOptions opt;
  opt.fit_options.bootstrap_reps = 50;
  AnalysisReport rep = analyze_runs(recs, opt);
  EXPECT_EQ(rep.ignored.diverged, 1);
  EXPECT_EQ(rep.ignored.failed, 1);
  const fs::path dir = fresh_dir("tinyfront_analysis_report");
  write_report(rep, dir.string());
  for (const char* name :
       {"report.md", "analysis.json", "runs.csv", "slices.csv", "frontier_flops.csv",
        "frontier_params.csv", "ranking.csv", "ranking_summary.csv", "axis_effects.csv",
        "axis_summary.csv", "convention_sensitivity.csv", "bucket_winners.csv", "flops_ratio.csv",
        "compute_scaled.csv", "compute_verdicts.csv", "fit.csv", "fit_points.csv",
        "compute_optimal.csv", "curves.csv"}) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(fs::exists(dir / name));
    EXPECT_GT(fs::file_size(dir / name), 20u);
  }
  // runs.csv: a header and one line per usable run.
  std::ifstream runs(dir / "runs.csv");
  std::string line;
  int lines = 0;
  while (std::getline(runs, line)) ++lines;
  EXPECT_EQ(lines, 1 + rep.usable);
  // curves.csv has the requested columns first.
  std::ifstream curves(dir / "curves.csv");
  std::getline(curves, line);
  EXPECT_EQ(line.rfind("run_id,step,tokens,train_loss,val_loss", 0), 0u) << line;
  // analysis.json parses and carries the key numbers.
  std::ifstream js(dir / "analysis.json");
  auto j = nlohmann::json::parse(js);
  EXPECT_EQ(j["usable"], rep.usable);
  EXPECT_EQ(j["ignored"]["diverged"], 1);
  EXPECT_FALSE(j["slices"][0]["frontier"]["flops_study"].empty());
  ASSERT_FALSE(j["compute_scaled"]["verdicts"].empty());
  EXPECT_NE(j["compute_scaled"]["verdicts"][0]["verdict"].get<std::string>().find("L=4"),
            std::string::npos);
  bool fitted = false;
  for (auto& f : j["fits"]) fitted = fitted || f["fitted"].get<bool>();
  EXPECT_TRUE(fitted) << j["fits"].dump(1);
  // report.md has every section.
  std::ifstream md(dir / "report.md");
  std::string text((std::istreambuf_iterator<char>(md)), {});
  for (const char* heading :
       {"## Frontier: test NLL vs training FLOPs", "## Frontier: test NLL vs parameters",
        "## Architectures at matched FLOPs", "## Effect of each axis",
        "## FLOP-convention sensitivity", "## Compute-scaled depth check", "## Scaling-law fits",
        "## Timing"})
    EXPECT_NE(text.find(heading), std::string::npos) << heading;
  EXPECT_NE(text.find("2 ignored: 1 failed, 1 diverged"), std::string::npos);
}

TEST(AnalysisReport, PlotScriptWritesPngsOfStatedSize) {
  std::string tried;
  const std::string python = python_with_matplotlib(tried);
  if (python.empty())
    GTEST_SKIP() << "no Python with matplotlib and numpy (tried " << tried
                 << "; `python3 -c 'import matplotlib'` fails): plot_report.py not tested";
  auto recs = grid_search(2);
  AnalysisOptions opt;
  opt.fit_options.bootstrap_reps = 20;
  AnalysisReport rep = analyze_runs(recs, opt);
  const fs::path dir = fresh_dir("tinyfront_analysis_plots");
  write_report(rep, dir.string());
  const std::string script = std::string(TINYFRONT_SOURCE_DIR) + "/analysis/plot_report.py";
  ASSERT_TRUE(fs::exists(script)) << script;
  const std::string cmd = python + " '" + script + "' '" + dir.string() + "' > '" +
                          (dir / "plot.log").string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream log(dir / "plot.log");
  std::string log_text((std::istreambuf_iterator<char>(log)), {});
  ASSERT_EQ(rc, 0) << cmd << "\n" << log_text;
  for (const char* name :
       {"nll_vs_flops_tiny_paper", "nll_vs_flops_conventions_tiny_paper",
        "nll_vs_params_tiny_paper", "curves_tiny_paper", "scaling_law_tiny_paper_transformer"}) {
    SCOPED_TRACE(name);
    const fs::path png = dir / "plots" / (std::string(name) + ".png");
    const fs::path svg = dir / "plots" / (std::string(name) + ".svg");
    ASSERT_TRUE(fs::exists(png)) << log_text;
    EXPECT_GT(fs::file_size(png), 1000u);
    EXPECT_TRUE(fs::exists(svg));
    PngSize s = png_size(png);
    ASSERT_TRUE(s.ok) << "not a PNG";
    EXPECT_EQ(s.width, 800u);  // 8 x 5 inches at 100 dpi (plot_report.py docstring)
    EXPECT_EQ(s.height, 500u);
  }
}

// 100,000 runs: 4 architectures x 2 datasets x 2 protocols over depth, width, context, learning
// rate, epochs and 5 seeds. Prints the time of analyze_runs without fits (target: < 2 s), of
// the fits with their bootstraps, and of write_report.
TEST(AnalysisBenchmark, HundredThousandRuns) {
  const auto t_gen = std::chrono::steady_clock::now();
  std::vector<RunRecord> recs;
  recs.reserve(100'000);
  Rng rng(3);
  const double lrs[5] = {1e-4, 3e-4, 1e-3, 3e-3, 1e-2};
  for (int i = 0; recs.size() < 100'000; ++i) {
    int k = i;
    auto take = [&](int n) {
      const int v = k % n;
      k /= n;
      return v;
    };
    const uint64_t seed = uint64_t(take(5));
    const double lr = lrs[take(5)];
    const int epochs = 1 << take(3);
    const int context = 32 << take(3);
    const int d_model = 32 << take(3);
    const int layers = 1 + take(6);
    const Arch arch = Arch(take(4));
    const int dataset = take(2), protocol = take(2);
    if (arch != Arch::transformer && layers > 1) continue;  // depth only for transformers
    RunRecord r;
    RunConfig& c = r.config;
    c.data.name = dataset ? "words" : "chars";
    c.train.protocol = protocol ? Protocol::causal : Protocol::paper;
    c.model.arch = arch, c.model.layers = layers, c.model.d_model = d_model,
    c.model.context = context;
    c.train.lr = lr, c.train.epochs = epochs, c.train.seed = seed;
    r.run_id = "b" + std::to_string(i);
    TrainResult& t = r.result;
    const double P = arch == Arch::transformer ? 12.0 * layers * d_model * d_model + 100.0 * d_model
                                               : 100.0 * d_model * context;
    t.params = int64_t(P), t.params_non_embedding = int64_t(0.9 * P);
    t.train_tokens = int64_t(epochs) * 20'000 * context;
    t.train_targets = protocol ? t.train_tokens : t.train_tokens / context;
    t.flops_study = 2 * P * double(t.train_tokens);
    t.flops_kaplan = 6 * 0.9 * P * double(t.train_targets);
    t.flops_exact = t.flops_study *
                    (arch == Arch::transformer || arch == Arch::attention ? 3.0 : 3.0 / context);
    t.test_nll = (1.5 + 300 / std::pow(P, 0.3) + 900 / std::pow(double(t.train_tokens), 0.25) +
                  0.05 * std::abs(std::log10(lr / 1e-3))) *
                 std::exp(0.01 * rng.normal());
    t.status = i % 50 == 7   ? RunStatus::failed
               : i % 97 == 3 ? RunStatus::diverged
                             : RunStatus::done;
    recs.push_back(std::move(r));
  }
  const double gen_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_gen).count();

  AnalysisOptions opt;
  opt.fit = false;
  AnalysisReport rep = analyze_runs(recs, opt);
  EXPECT_EQ(rep.records, 100'000);
  EXPECT_GT(rep.ignored.total(), 0);
  EXPECT_FALSE(rep.frontier_flops.empty());

  // The fits alone, on the same runs (points are one per distinct (params, tokens)).
  AnalysisOptions with_fit;
  with_fit.fit = true;
  AnalysisReport fitted = analyze_runs(recs, with_fit);
  double fit_s = 0, boot_s = 0;
  int fits_ok = 0, points = 0;
  for (const auto& f : fitted.fits) {
    fit_s += f.fit.seconds_fit, boot_s += f.fit.seconds_bootstrap;
    fits_ok += f.fit.ok;
    points += f.fit.n_points;
  }

  const fs::path dir = fresh_dir("tinyfront_analysis_bench");
  const auto t_w = std::chrono::steady_clock::now();
  write_report(rep, dir.string());
  const double write_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_w).count();
  fs::remove_all(dir);

  std::printf(
      "[bench] 100000 runs (%lld usable, generated in %.2f s): analyze_runs without fits %.3f s "
      "(target < 2 s); %zu axis-effect rows, %zu frontier rows\n"
      "[bench] fits: %zu scopes (%d fitted, %d points in all): %.3f s fitting + %.3f s bootstrap "
      "(%d reps each); whole fit stage %.3f s\n"
      "[bench] write_report: %.3f s\n",
      (long long)rep.usable, gen_s, rep.seconds_analysis, rep.axis_effects.size(),
      rep.frontier_flops.size(), fitted.fits.size(), fits_ok, points, fit_s, boot_s,
      with_fit.fit_options.bootstrap_reps, fitted.seconds_fit, write_s);
  RecordProperty("analysis_seconds", std::to_string(rep.seconds_analysis));
  RecordProperty("fit_seconds", std::to_string(fit_s));
  RecordProperty("bootstrap_seconds", std::to_string(boot_s));
}
