// Sweeps over real MPI ranks (mpiexec, oversubscribed) into real HDF5 files.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "mpi_helpers.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/spec/sweep_spec.hpp"
#include "tinyfront/store/results_file.hpp"

using namespace tinyfront;
using namespace tinyfront::testing_support;

namespace {

std::string tiny_sweep(const std::string& extra_grid = "") {
  return "[sweep]\nname = \"tiny\"\n"
         "[defaults]\n"
         "data.path = \"" +
         shakespeare_path() +
         "\"\n"
         "model.arch = \"linear\"\nmodel.d_model = 8\n"
         "train.epochs = 1\ntrain.windows_per_epoch = 640\ntrain.batch = 32\n"
         "train.eval_windows = 200\n"
         "[grid]\nmodel.context = [2, 4, 8]\ntrain.lr = [1e-3, 1e-2]\n" +
         extra_grid;
}

}  // namespace

TEST(MpiSweep, ThreeRanksEveryPointExactlyOnce) {
  TempDir dir("mpi3");
  std::string spec = dir.file("tiny.toml", tiny_sweep());
  std::string out = dir.file("results.h5");
  CommandResult r = run_command(mpiexec(3, "sweep " + spec + " --out " + out + " --quiet"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  SweepSpec s = load_sweep_spec(spec);
  ASSERT_EQ(s.runs.size(), 6u);
  std::vector<RunRecord> recs = store_read_runs(out);
  std::map<std::string, int> seen;
  for (auto& rec : recs) seen[rec.run_id] += 1;
  for (auto& run : s.runs) EXPECT_EQ(seen[run_id(run)], 1) << run_id(run);
  EXPECT_EQ(recs.size(), 6u);
  std::set<int> ranks;
  for (auto& rec : recs) {
    EXPECT_EQ(rec.result.status, RunStatus::done);
    EXPECT_TRUE(rec.rank == 1 || rec.rank == 2) << rec.rank;
    ranks.insert(rec.rank);
  }
  // h5dump reads the file too.
  CommandResult d = run_command("h5dump -H " + out);
  EXPECT_EQ(d.exit_code, 0) << d.output;
  EXPECT_NE(d.output.find("DATASET \"runs\""), std::string::npos) << d.output;
}

TEST(MpiSweep, DivergingRunIsRecordedAndTheRestFinish) {
  TempDir dir("mpi4");
  std::string spec =
      dir.file("div.toml", tiny_sweep() +
                               "[[include]]\nmodel.arch = \"mlp\"\nmodel.hidden = [16]\n"
                               "model.context = 4\ntrain.lr = 9.0\ntrain.diverge_loss = 8.0\n");
  std::string out = dir.file("results.h5");
  CommandResult r = run_command(mpiexec(4, "sweep " + spec + " --out " + out + " --quiet"));
  EXPECT_EQ(r.exit_code, 1) << r.output;  // not every run succeeded
  std::vector<RunRecord> recs = store_read_runs(out);
  ASSERT_EQ(recs.size(), 7u) << r.output;
  int done = 0, diverged = 0;
  for (auto& rec : recs) {
    if (rec.result.status == RunStatus::done) ++done;
    if (rec.result.status == RunStatus::diverged) {
      ++diverged;
      EXPECT_EQ(rec.config.model.arch, Arch::mlp);
      EXPECT_FALSE(rec.result.message.empty());
    }
  }
  EXPECT_EQ(done, 6);
  EXPECT_EQ(diverged, 1);
  std::map<std::string, int> seen;  // every run exactly once
  for (auto& rec : recs) seen[rec.run_id] += 1;
  for (auto& run : load_sweep_spec(spec).runs) EXPECT_EQ(seen[run_id(run)], 1);
}

TEST(MpiSweep, TwoShardsMergedEqualTheUnshardedSweep) {
  TempDir dir("shards");
  std::string spec = dir.file("tiny.toml", tiny_sweep("train.seed = [1, 2]\n"));
  std::string whole = dir.file("whole.h5"), a = dir.file("a.h5"), b = dir.file("b.h5");
  ASSERT_EQ(run_command(mpiexec(2, "sweep " + spec + " --out " + whole + " --quiet")).exit_code, 0);
  ASSERT_EQ(
      run_command(mpiexec(2, "sweep " + spec + " --out " + a + " --shard 0/2 --quiet")).exit_code,
      0);
  ASSERT_EQ(
      run_command(mpiexec(2, "sweep " + spec + " --out " + b + " --shard 1/2 --quiet")).exit_code,
      0);
  size_t na = store_read_runs(a).size(), nb = store_read_runs(b).size();
  EXPECT_GT(na, 0u);
  EXPECT_GT(nb, 0u);
  EXPECT_EQ(na + nb, 12u);
  std::string merged = dir.file("merged.h5");
  CommandResult m =
      run_command(std::string(TINYFRONT_BINARY) + " merge " + a + " " + b + " -o " + merged);
  ASSERT_EQ(m.exit_code, 0) << m.output;
  std::map<std::string, RunRecord> w, g;
  for (auto& r : store_read_runs(whole)) w[r.run_id] = r;
  for (auto& r : store_read_runs(merged)) g[r.run_id] = r;
  ASSERT_EQ(w.size(), g.size());
  for (auto& [id, r] : w) {
    ASSERT_TRUE(g.count(id)) << id;
    EXPECT_EQ(g[id].result.test_nll, r.result.test_nll) << id;
    EXPECT_EQ(g[id].result.best_val_nll, r.result.best_val_nll) << id;
  }
}

// The README's main job in miniature: the quick sweep on 2 ranks, then its report and plots.
// Its results must stay bit-identical: every stored metric of `tinyfront export --csv` is
// compared with tests/data/quick_sweep.csv, made by the build before the issue-14 restructuring
// (c0a64b0; only wall time, throughput, rank, host and timestamps are left out). The quick
// sweep trains no model with dropout. After a change MEANT to alter results (new numerics),
// regenerate it with `bash scripts/regen-quick-expectations.sh` and say so in the commit.
TEST(MpiSweep, QuickSweepThenAnalyzeMakesReportAndPlots) {
  TempDir dir("quick");
  std::string out = dir.file("quick.h5"), report = (dir.path / "report").string();
  const std::string source = TINYFRONT_SOURCE_DIR;
  CommandResult r = run_command(mpiexec(2, "sweep " + source + "/sweeps/quick.toml --out " + out));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("16 runs done"), std::string::npos) << r.output;
  const std::string csv = dir.file("quick.csv");
  // In a subshell: run_command sends stderr to its pipe, the CSV alone goes to the file.
  const std::string export_csv =
      std::string(TINYFRONT_BINARY) + " export " + out + " --csv > " + csv;
  CommandResult exported = run_command(std::string("(") + export_csv + ")");
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  CommandResult same = run_command("python3 " + source + "/tests/compare_results_csv.py " + source +
                                   "/tests/data/quick_sweep.csv " + csv);
  EXPECT_EQ(same.exit_code, 0) << same.output;
  CommandResult a =
      run_command(std::string(TINYFRONT_BINARY) + " analyze " + out + " --out " + report);
  ASSERT_EQ(a.exit_code, 0) << a.output;
  EXPECT_TRUE(std::filesystem::exists(report + "/report.md"));
  EXPECT_TRUE(std::filesystem::exists(report + "/frontier_flops.csv"));
  for (const char* plot : {"nll_vs_flops_tinyshakespeare_paper",
                           "nll_vs_params_tinyshakespeare_paper", "curves_tinyshakespeare_paper"}) {
    std::string png = report + "/plots/" + plot + ".png";
    ASSERT_TRUE(std::filesystem::exists(png)) << png << "\n" << a.output;
    std::ifstream in(png, std::ios::binary);
    unsigned char h[24];
    in.read(reinterpret_cast<char*>(h), 24);
    // PNG signature, then IHDR width and height (big-endian) at bytes 16 and 20.
    ASSERT_EQ(h[1], 'P');
    int width = (h[16] << 24) | (h[17] << 16) | (h[18] << 8) | h[19];
    int height = (h[20] << 24) | (h[21] << 16) | (h[22] << 8) | h[23];
    EXPECT_EQ(width, 800) << png;
    EXPECT_EQ(height, 500) << png;
    EXPECT_TRUE(std::filesystem::exists(report + "/plots/" + plot + ".svg"));
  }
}

TEST(MpiSweep, BadSpecStopsEveryRankBeforeAnyCompute) {
  TempDir dir("mpibad");
  std::string spec = dir.file("bad.toml", tiny_sweep("model.heads = [3]\nmodel.colour = [1]\n"));
  std::string out = dir.file("results.h5");
  CommandResult r = run_command(mpiexec(3, "sweep " + spec + " --out " + out));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("bad.toml:15:17: model.colour: unknown key"), std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(out));
}

TEST(MpiSweep, ResumeSkipsDoneRunsAndRefusesChangedDefinitions) {
  TempDir dir("mpiresume");
  std::string spec = dir.file("tiny.toml", tiny_sweep());
  std::string out = dir.file("results.h5");
  ASSERT_EQ(run_command(mpiexec(2, "sweep " + spec + " --out " + out + " --quiet")).exit_code, 0);
  // Same command again: nothing to run, same records.
  CommandResult again = run_command(mpiexec(2, "sweep " + spec + " --out " + out));
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("6 of 6 runs already recorded, 0 to run"), std::string::npos)
      << again.output;
  EXPECT_EQ(store_read_runs(out).size(), 6u);
  // New points added: only they run.
  std::string grown = dir.file("tiny.toml", tiny_sweep() + "[[include]]\nmodel.context = 3\n");
  CommandResult more = run_command(mpiexec(2, "sweep " + grown + " --out " + out));
  EXPECT_EQ(more.exit_code, 0) << more.output;
  EXPECT_NE(more.output.find("6 of 7 runs already recorded, 1 to run"), std::string::npos)
      << more.output;
  EXPECT_EQ(store_read_runs(out).size(), 7u);
  // A changed definition of existing runs is an error naming the run and the field.
  std::string changed = dir.file("tiny.toml", tiny_sweep() + "[[include]]\nmodel.context = 3\n");
  CommandResult bad = run_command(
      mpiexec(2, "sweep " + changed + " --out " + out + " --set train.windows_per_epoch=320"));
  EXPECT_NE(bad.exit_code, 0) << bad.output;
  EXPECT_NE(bad.output.find("train.windows_per_epoch 640 -> 320"), std::string::npos) << bad.output;
  EXPECT_EQ(store_read_runs(out).size(), 7u);
}

TEST(MpiSweep, SimulatedSweepWith64Ranks) {
  TempDir dir("mpisim");
  std::string grid = "[sweep]\nname = \"sim\"\n[defaults]\ndata.path = \"" + shakespeare_path() +
                     "\"\nmodel.arch = \"linear\"\n[grid]\nmodel.context = [1,2,3,4,5,6,7,8]\n"
                     "train.lr = [1e-3,2e-3,3e-3,4e-3,5e-3,6e-3,7e-3,8e-3]\n"
                     "train.seed = [1,2,3,4]\n";
  std::string spec = dir.file("sim.toml", grid);
  CommandResult r = run_command(mpiexec(64, "sweep " + spec + " --out " + dir.file("x.h5") +
                                                " --simulate --simulate-scale 0.02 --quiet"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto brace = r.output.rfind('{');
  ASSERT_NE(brace, std::string::npos) << r.output;
  auto j = nlohmann::json::parse(r.output.substr(brace));
  EXPECT_EQ(j["ranks"], 64);
  EXPECT_EQ(j["runs"], 256);
  EXPECT_GT(j["efficiency"].get<double>(), 0.3) << r.output;
  // Every result counted in some group commit, at most one commit each.
  EXPECT_LE(j["commits"].get<int>(), 256);
  EXPECT_GE(j["commits"].get<int>(), 1);
}

TEST(MpiSweep, ResultsArrivingTogetherShareOneFsync) {
  // 31 workers with runs of (almost) no length: results reach the master faster than it handles
  // them one at a time, so it commits them in groups (one fsync each; the store's side of group
  // commit is StoreRoundTrip.GroupCommitIsOneWriteAllOrNothing). Simulated runs store nothing.
  TempDir dir("mpigroup");
  std::string grid = "[sweep]\nname = \"group\"\n[defaults]\ndata.path = \"" + shakespeare_path() +
                     "\"\nmodel.arch = \"linear\"\n[grid]\nmodel.context = [1,2,3,4,5,6,7,8]\n"
                     "train.lr = [1e-3,2e-3,3e-3,4e-3,5e-3,6e-3,7e-3,8e-3]\n"
                     "train.seed = [1,2,3,4,5,6,7,8]\n";
  std::string spec = dir.file("g.toml", grid);
  CommandResult r = run_command(mpiexec(32, "sweep " + spec + " --out " + dir.file("g.h5") +
                                                " --simulate --simulate-scale 1e-9 --quiet"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output.substr(r.output.rfind('{')));
  EXPECT_EQ(j["runs"], 512);
  EXPECT_LT(j["commits"].get<int>(), 512) << r.output;
}
