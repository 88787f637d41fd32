// Published figures beside our runs (tinyfront analyze --reference): a real tiny sweep on 2 MPI
// ranks into a real results file, then reference files whose figures lie inside, outside or
// nowhere near it; malformed reference files; the shipped study reference against the study's
// sweep specs.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "mpi_helpers.hpp"
#include "tinyfront/analysis/reference.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/spec/sweep_spec.hpp"
#include "tinyfront/store/results_file.hpp"

using namespace tinyfront;
using namespace tinyfront::testing_support;
namespace fs = std::filesystem;

namespace {

std::string tf(const std::string& args) {
  return std::string(TINYFRONT_BINARY) + " " + args;
}

// Linear models of context 2 and 4, three seeds each: six runs of a second or so.
const char* kSweep = R"([sweep]
name = "reference test"
[defaults]
data.name = "tiny"
data.path = "%DATA%"
model.arch = "linear"
model.d_model = 8
train.epochs = 1
train.windows_per_epoch = 640
train.batch = 32
train.eval_windows = 200
train.lr = 1e-2
[grid]
model.context = [2, 4]
train.seed = [0, 1, 2]
)";

struct Stats {
  double mean = 0, sd = 0;
  int64_t params = 0;
  int n = 0;
};

// The sweep's results, made once for every test of this file.
class ReferenceOnRealSweep : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("reference");
    std::string spec = kSweep;
    spec.replace(spec.find("%DATA%"), 6, shakespeare_path());
    const std::string spec_path = dir_->file("sweep.toml", spec);
    results_ = dir_->file("results.h5");
    CommandResult r =
        run_command(mpiexec(2, "sweep " + spec_path + " --out " + results_ + " --quiet"));
    ASSERT_EQ(r.exit_code, 0) << r.output;
    for (const auto& rec : store_read_runs(results_)) {
      Stats& s = stats_[rec.config.model.context];
      s.mean += rec.result.test_nll;
      s.params = rec.result.params;
      s.n += 1;
    }
    for (auto& [ctx, s] : stats_) s.mean /= s.n;
    for (const auto& rec : store_read_runs(results_)) {
      Stats& s = stats_[rec.config.model.context];
      s.sd += (rec.result.test_nll - s.mean) * (rec.result.test_nll - s.mean);
    }
    for (auto& [ctx, s] : stats_) s.sd = std::sqrt(s.sd / (s.n - 1));
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  // Runs analyze with a reference file of the given text; returns the parsed analysis.json.
  nlohmann::json analyze(const std::string& name, const std::string& reference,
                         CommandResult* out = nullptr) {
    const std::string ref = dir_->file(name + ".toml", reference);
    const std::string report = (dir_->path / (name + "_report")).string();
    CommandResult r = run_command(tf("analyze " + results_ + " --reference " + ref + " --out " +
                                     report + " --no-fit --no-plots"));
    if (out) *out = r;
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::ifstream in(report + "/analysis.json");
    if (!in) return {};
    return nlohmann::json::parse(in);
  }

  static std::string num(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
  }

  static TempDir* dir_;
  static std::string results_;
  static std::map<int, Stats> stats_;
};
TempDir* ReferenceOnRealSweep::dir_ = nullptr;
std::string ReferenceOnRealSweep::results_;
std::map<int, Stats> ReferenceOnRealSweep::stats_;

const nlohmann::json* find_row(const nlohmann::json& j, const std::string& label,
                               const std::string& metric) {
  for (const auto& r : j["references"][0]["rows"])
    if (r["label"] == label && r["metric"] == metric) return &r;
  return nullptr;
}

}  // namespace

TEST_F(ReferenceOnRealSweep, InsideToleranceOutsideMissingAndParams) {
  ASSERT_EQ(stats_.size(), 2u);
  const Stats& a = stats_[2];
  ASSERT_EQ(a.n, 3);
  ASSERT_GT(a.sd, 0);  // three seeds really differ
  const std::string text =
      "[reference]\ntitle = \"A made-up paper\"\ntolerance = 0.05\nsigmas = 0\n"
      "[match]\ndata.name = \"tiny\"\nmodel.arch = \"linear\"\n"
      "[[table]]\nname = \"Table 1\"\n"
      "  [[table.row]]\n  label = \"inside\"\n  match.model.context = 2\n"
      "  test_nll = " +
      num(a.mean + 0.03) + "\n  params = " + std::to_string(a.params) +
      "\n"
      "  [[table.row]]\n  label = \"outside\"\n  match.model.context = 4\n"
      "  test_nll = " +
      num(stats_[4].mean + 0.5) + "\n  params = " + std::to_string(stats_[4].params + 1000) +
      "\n"
      "  [[table.row]]\n  label = \"never run\"\n  match.model.context = 8\n  test_nll = 2.5\n";
  CommandResult out;
  nlohmann::json j = analyze("basic", text, &out);
  ASSERT_TRUE(j.contains("references")) << out.output;
  const auto& ref = j["references"][0];
  EXPECT_EQ(ref["title"], "A made-up paper");
  EXPECT_EQ(ref["within"], 2);
  EXPECT_EQ(ref["outside"], 2);
  EXPECT_EQ(ref["missing"], 1);

  const auto* in = find_row(j, "inside", "test_nll");
  ASSERT_TRUE(in);
  EXPECT_EQ((*in)["verdict"], "within");
  EXPECT_EQ((*in)["n"], 3);
  EXPECT_NEAR((*in)["mean"].get<double>(), a.mean, 1e-9);
  EXPECT_NEAR((*in)["sd"].get<double>(), a.sd, 1e-9);
  EXPECT_NEAR((*in)["diff"].get<double>(), -0.03, 1e-9);
  EXPECT_EQ((*in)["run_ids"].size(), 3u);
  EXPECT_EQ((*find_row(j, "inside", "params"))["verdict"], "within");
  EXPECT_EQ((*find_row(j, "outside", "test_nll"))["verdict"], "outside");
  EXPECT_EQ((*find_row(j, "outside", "params"))["verdict"], "outside");
  const auto* missing = find_row(j, "never run", "test_nll");
  ASSERT_TRUE(missing);
  EXPECT_EQ((*missing)["verdict"], "missing");
  EXPECT_EQ((*missing)["n"], 0);
  EXPECT_TRUE((*missing)["mean"].is_null());
  EXPECT_EQ((*missing)["why"], "no run matches");

  // The same verdicts in the CSV and the Markdown report.
  const fs::path report = dir_->path / "basic_report";
  std::ifstream csv(report / "reference.csv");
  std::string header, line, all;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("reference_file,table,label,metric,reference,mean,sd,n,", 0), 0u)
      << header;
  int rows = 0;
  while (std::getline(csv, line)) all += line + "\n", ++rows;
  EXPECT_EQ(rows, 5);
  EXPECT_NE(all.find("never run,test_nll,2.5,nan,nan,0,"), std::string::npos) << all;
  std::ifstream md(report / "report.md");
  std::string text_md((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text_md.find("## Published figures: A made-up paper"), std::string::npos);
  EXPECT_NE(text_md.find("**2 within, 2 outside, 1 missing** of 5 figures."), std::string::npos)
      << text_md;
  EXPECT_NE(text_md.find("| never run | test_nll | 2.5000 | - | - | 0 | - | 0.0500 | missing "
                         "(no run matches) |"),
            std::string::npos)
      << text_md;
  EXPECT_NE(out.output.find("2 within, 2 outside, 1 missing, 0 ambiguous of 5 figures"),
            std::string::npos)
      << out.output;
}

// With no absolute tolerance, the seed spread alone decides: 1.5 sd away is within 2 sd,
// 3 sd away is not; a per-row tolerance overrides the file's.
TEST_F(ReferenceOnRealSweep, SeedSpreadRuleAndRowTolerance) {
  const Stats& a = stats_[2];
  const std::string text =
      "[reference]\ntolerance = 0.0\nsigmas = 2\n"
      "[match]\nmodel.arch = \"linear\"\nmodel.context = 2\n"
      "[[table]]\nname = \"spread\"\n"
      "  [[table.row]]\n  label = \"1.5 sd\"\n  test_nll = " +
      num(a.mean + 1.5 * a.sd) +
      "\n"
      "  [[table.row]]\n  label = \"3 sd\"\n  test_nll = " +
      num(a.mean - 3 * a.sd) +
      "\n"
      "  [[table.row]]\n  label = \"3 sd, row tolerance\"\n  tolerance = " +
      num(4 * a.sd) + "\n  test_nll = " + num(a.mean - 3 * a.sd) + "\n";
  nlohmann::json j = analyze("spread", text);
  ASSERT_TRUE(j.contains("references"));
  EXPECT_EQ((*find_row(j, "1.5 sd", "test_nll"))["verdict"], "within");
  EXPECT_EQ((*find_row(j, "1.5 sd", "test_nll"))["why"], "inside mean +/- sigmas x sd");
  EXPECT_EQ((*find_row(j, "3 sd", "test_nll"))["verdict"], "outside");
  EXPECT_EQ((*find_row(j, "3 sd, row tolerance", "test_nll"))["verdict"], "within");
}

// A figure whose match leaves a varying field free pools two configs: flagged, not averaged.
TEST_F(ReferenceOnRealSweep, FigureMatchingTwoConfigsIsAmbiguous) {
  const std::string text =
      "[[table]]\nname = \"loose\"\n"
      "  [[table.row]]\n  label = \"any linear\"\n  match.model.arch = \"linear\"\n"
      "  test_nll = 3.0\n";
  nlohmann::json j = analyze("loose", text);
  ASSERT_TRUE(j.contains("references"));
  const auto* r = find_row(j, "any linear", "test_nll");
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["verdict"], "ambiguous");
  EXPECT_NE((*r)["why"].get<std::string>().find("model.context"), std::string::npos) << *r;
}

// A malformed reference file stops analyze before it reads any results file: every problem at
// once, each as file:line:column: key: reason, exit status 2, no report written.
TEST(ReferenceFile, MalformedFileIsAClearErrorBeforeAnyWork) {
  TempDir dir("reference_bad");
  const std::string ref = dir.file("bad.toml",
                                   "[reference]\n"
                                   "tolerance = -1\n"
                                   "[[table]]\n"
                                   "name = \"T1\"\n"
                                   "  [[table.row]]\n"
                                   "  label = \"x\"\n"
                                   "  match.model.arch = \"lstm\"\n"
                                   "  test_nl = 2.0\n"
                                   "  [[table.row]]\n"
                                   "  label = \"y\"\n"
                                   "  match.model.contxt = 8\n"
                                   "  params = -5\n");
  const std::string report = (dir.path / "report").string();
  // The results file does not exist: the reference errors must come first and alone.
  CommandResult r = run_command(
      tf("analyze " + dir.file("absent.h5") + " --reference " + ref + " --out " + report));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  for (const char* expected :
       {":2:13: reference.tolerance: must be >= 0",
        ":7:22: row.match.model.arch: unknown value \"lstm\" (expected linear, mlp, attention, "
        "transformer)",
        ":8:13: row.test_nl: unknown key (expected label, match.<field>",
        ":11:24: row.match.model.contxt: unknown config field", ":12:12: row.params: must be > 0"})
    EXPECT_NE(r.output.find(ref + std::string(expected)), std::string::npos) << expected << "\n"
                                                                             << r.output;
  EXPECT_EQ(r.output.find("absent.h5"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(report));
}

TEST(ReferenceFile, StructuralErrors) {
  TempDir dir("reference_struct");
  struct Case {
    std::string text, expected;
  };
  const std::vector<Case> cases = {
      {"[reference]\ntitle = \"t\"\n", "table: no [[table]] of figures"},
      {"[[table]]\nname = \"empty\"\n", "table: table \"empty\" has no [[table.row]]"},
      {"[[table]]\nname = \"T\"\n[[table.row]]\nlabel = \"r\"\nmatch.model.arch = \"mlp\"\n",
       "row \"r\" of table \"T\" has no figure"},
      {"[[table]]\nname = \"T\"\n[[table.row]]\nlabel = \"r\"\ntest_nll = 2.0\n",
       "row \"r\" matches every run"},
      {"[[table]]\nname = \"T\"\n[[table.row]]\nmatch.model.arch = \"mlp\"\ntest_nll = \"low\"\n",
       ":5:12: row.test_nll: expected a number"},
      {"[figures]\n", ":1:1: figures: unknown section (expected reference, match, table)"},
      {"[[table]\n", "TOML syntax error"},
  };
  for (const auto& c : cases) {
    const std::string p = dir.file("case.toml", c.text);
    std::string err;
    try {
      load_reference(p);
    } catch (const SpecError& e) {
      err = e.what();
    }
    EXPECT_NE(err.find(c.expected), std::string::npos)
        << "file:\n"
        << c.text << "\nexpected: " << c.expected << "\ngot: " << err;
  }
  EXPECT_THROW(load_reference(dir.file("absent.toml")), SpecError);
}

// The shipped study reference against the study's sweep specs: every parameter count of the
// study is what a spec's run has, and the FLOPs are the study's convention (2 x params x
// window tokens) except Table 3's, which the study computed with T=64.
TEST(ReferenceFile, StudyReferenceAgreesWithTheStudySpecs) {
  const std::string shared = std::string(TINYFRONT_SHARED_DATA);
  if (!fs::exists(shared + "/ptb/train.txt") || !fs::exists(shared + "/wikitext-2/train.txt") ||
      !fs::exists(shared + "/tinyshakespeare/paper-split"))
    GTEST_SKIP() << shared << " is absent (the shared data folder is not beside this checkout)";
  ReferenceFile ref =
      load_reference(std::string(TINYFRONT_SOURCE_DIR) + "/analysis/reference/study.toml");
  EXPECT_EQ(ref.figures.size(), 43u);
  // Records as a sweep of every study spec would write them, with the plan's costs.
  std::vector<RunRecord> recs;
  for (const auto& entry :
       fs::directory_iterator(std::string(TINYFRONT_SOURCE_DIR) + "/sweeps/study")) {
    if (entry.path().extension() != ".toml") continue;
    const std::string name = entry.path().filename().string();
    if (name.rfind("table", 0) != 0 && name.rfind("sweep_", 0) != 0 && name.rfind("word_", 0) != 0)
      continue;  // the study's own tables only
    SweepSpec spec = load_sweep_spec(entry.path().string());
    for (const auto& cfg : spec.runs) {
      RunRecord r;
      r.run_id = run_id(cfg);
      r.config = cfg;
      PlannedCost c = planned_cost(cfg, spec.corpora.at(data_key(cfg.data)));
      r.result.status = RunStatus::done;
      r.result.test_nll = 1.0;
      r.result.params = c.params;
      r.result.train_tokens = c.train_tokens;
      r.result.flops_study = c.flops_study;
      recs.push_back(r);
    }
  }
  ReferenceComparison cmp = compare_reference(recs, ref);
  int params_rows = 0, flops_rows = 0;
  for (const auto& row : cmp.rows) {
    SCOPED_TRACE(row.table + " / " + row.label + " / " + row.metric);
    EXPECT_NE(row.verdict, "missing") << row.match;
    EXPECT_NE(row.verdict, "ambiguous") << row.why;
    EXPECT_EQ(row.n, 3);  // three seeds of every figure's config
    if (row.metric == "params") {
      ++params_rows;
      EXPECT_EQ(row.verdict, "within");
      EXPECT_EQ(row.mean, row.reference);
    }
    if (row.metric == "flops_study") {
      ++flops_rows;
      if (row.table.rfind("Table 3", 0) == 0) {
        EXPECT_EQ(row.verdict, "outside");
        EXPECT_NEAR(row.mean / row.reference, 2.0, 0.02);  // the study's T=64
      } else {
        EXPECT_EQ(row.verdict, "within") << row.mean << " vs " << row.reference;
      }
    }
  }
  EXPECT_EQ(params_rows, 11);
  EXPECT_EQ(flops_rows, 8);
}
