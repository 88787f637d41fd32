// Crash safety and resume with real MPI jobs: kill -9 of the whole job at random instants, and
// SIGUSR1 (what Slurm sends before a time limit), then resume until done. Nothing reported done is
// lost, nothing done runs twice, and the final table equals an uninterrupted sweep's, bit for bit.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "mpi_helpers.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/store/results_file.hpp"

using namespace tinyfront;
using namespace tinyfront::testing_support;

namespace {

std::string resume_sweep(int windows, const std::string& extra = "") {
  return "[sweep]\nname = \"resume\"\ncheckpoint_steps = 5\n"
         "[defaults]\n"
         "data.path = \"" +
         shakespeare_path() +
         "\"\n"
         "model.arch = \"transformer\"\nmodel.d_model = 16\nmodel.heads = 2\nmodel.ff = 32\n"
         "model.layers = 1\nmodel.dropout = 0.1\n"
         "train.epochs = 2\ntrain.windows_per_epoch = " +
         std::to_string(windows) +
         "\ntrain.batch = 16\ntrain.eval_windows = 100\n"
         "[grid]\nmodel.context = [4, 8, 16]\ntrain.lr = [1e-3, 3e-3]\n" +
         extra;
}

std::map<std::string, RunRecord> by_id(const std::vector<RunRecord>& v) {
  std::map<std::string, RunRecord> m;
  for (auto& r : v) m[r.run_id] = r;
  return m;
}

// The metrics that must not depend on interruptions.
void expect_same_metrics(const RunRecord& a, const RunRecord& b) {
  EXPECT_EQ(a.result.status, b.result.status) << a.run_id;
  EXPECT_EQ(a.result.test_nll, b.result.test_nll) << a.run_id;
  EXPECT_EQ(a.result.best_val_nll, b.result.best_val_nll) << a.run_id;
  EXPECT_EQ(a.result.best_val_step, b.result.best_val_step) << a.run_id;
  EXPECT_EQ(a.result.steps, b.result.steps) << a.run_id;
  EXPECT_EQ(a.result.flops_exact, b.result.flops_exact) << a.run_id;
}

// The last "N/M finished" count a master printed.
int last_finished_count(const std::string& out) {
  int best = 0;
  size_t pos = 0;
  while ((pos = out.find(" finished (", pos)) != std::string::npos) {
    size_t start = out.rfind(']', pos) + 2;
    best = std::max(best, std::atoi(out.c_str() + start));
    ++pos;
  }
  return best;
}

}  // namespace

TEST(Resume, KillNineAtRandomInstantsLosesNothingRepeatsNothing) {
  TempDir dir("kill9");
  std::string spec =
      dir.file("resume.toml", resume_sweep(20000, "train.seed = [1, 2]\n"));  // 12 runs
  // Reference: the same sweep, uninterrupted.
  std::string ref = dir.file("ref.h5");
  CommandResult r = run_command(mpiexec(3, "sweep " + spec + " --out " + ref + " --quiet"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto reference = by_id(store_read_runs(ref));
  ASSERT_EQ(reference.size(), 12u);

  std::string out = dir.file("results.h5");
  std::mt19937 rng(20261123);
  std::uniform_real_distribution<double> when(0.2, 1.2);
  std::map<std::string, double> first_finished;  // run id -> finished_at when first seen done
  int kills = 0;
  for (int attempt = 0; attempt < 40; ++attempt) {
    Background job(mpiexec(3, "sweep " + spec + " --out " + out), dir.file("log.txt"));
    bool kill_now = kills < 10;
    if (kill_now) {
      sleep_seconds(when(rng));
      // The whole job: mpirun's process group and every rank (Open MPI may start ranks in
      // process groups of their own).
      job.signal_group(SIGKILL);
      run_command("pkill -9 -f '" + spec + "'");
    }
    int code = job.wait();
    std::string log = job.output();
    if (!kill_now) {
      ASSERT_EQ(code, 0) << "the resume after the last kill failed:\n" << log;
      break;
    }
    if (code == 0) continue;  // finished before the kill
    ++kills;
    // Every run reported finished before the kill is in the file, with its first record.
    if (!std::filesystem::exists(out)) continue;  // killed before the file was created
    std::vector<RunRecord> recs = store_read_runs(out);
    EXPECT_GE(int(recs.size()), last_finished_count(log)) << log;
    for (auto& rec : recs) {
      if (rec.result.status != RunStatus::done) continue;
      auto it = first_finished.find(rec.run_id);
      if (it == first_finished.end()) {
        first_finished[rec.run_id] = rec.finished_at;
      } else {
        EXPECT_EQ(it->second, rec.finished_at) << "run " << rec.run_id << " ran twice";
      }
    }
  }
  EXPECT_EQ(kills, 10);
  auto final_runs = by_id(store_read_runs(out));
  ASSERT_EQ(final_runs.size(), reference.size());
  for (auto& [id, rec] : final_runs) {
    expect_same_metrics(rec, reference.at(id));
    auto it = first_finished.find(id);
    if (it != first_finished.end()) {
      EXPECT_EQ(it->second, rec.finished_at) << "ran twice: " << id;
    }
  }
}

TEST(Resume, SigUsr1CheckpointsExitsWithCodeAndResumesBitIdentical) {
  TempDir dir("usr1");
  std::string spec = dir.file("resume.toml", resume_sweep(40000));
  std::string ref = dir.file("ref.h5");
  ASSERT_EQ(run_command(mpiexec(2, "sweep " + spec + " --out " + ref + " --quiet")).exit_code, 0);
  auto reference = by_id(store_read_runs(ref));

  std::string out = dir.file("results.h5");
  Background job(mpiexec(2, "sweep " + spec + " --out " + out), dir.file("log.txt"));
  // Signal once the first run has finished, so that the sweep is surely in the middle.
  for (int i = 0; i < 600 && last_finished_count(job.output()) < 1; ++i) sleep_seconds(0.05);
  job.signal_leader(SIGUSR1);  // mpirun forwards SIGUSR1 to every rank
  int code = job.wait();
  ASSERT_EQ(code, 75) << job.output();
  std::vector<RunRecord> recs = store_read_runs(out);
  int preempted = 0;
  for (auto& rec : recs) preempted += rec.result.status == RunStatus::preempted;
  EXPECT_GE(preempted, 1) << job.output();
  EXPECT_LT(int(recs.size()), 6 + 1);
  EXPECT_TRUE(std::filesystem::exists(out + ".ckpt"));

  CommandResult again = run_command(mpiexec(2, "sweep " + spec + " --out " + out + " --quiet"));
  ASSERT_EQ(again.exit_code, 0) << again.output;
  auto final_runs = by_id(store_read_runs(out));
  ASSERT_EQ(final_runs.size(), 6u);
  for (auto& [id, rec] : final_runs) expect_same_metrics(rec, reference.at(id));
}

// `tinyfront status` on the file of a sweep that is running: what runs where, and an ETA; after
// the sweep stops, it says so, and a progress file left by a killed master is not taken as live.
TEST(Status, ShowsALiveSweepItsRunningRunsAndEta) {
  TempDir dir("status");
  std::string spec = dir.file("status.toml", resume_sweep(40000));
  std::string out = dir.file("results.h5");
  const std::string status_cmd = std::string(TINYFRONT_BINARY) + " status " + out;
  Background job(mpiexec(3, "sweep " + spec + " --out " + out), dir.file("log.txt"));
  // Ask until the published progress has a finished run (and so an ETA); the file is refreshed
  // at most once a second.
  CommandResult live;
  for (int i = 0; i < 300; ++i) {
    live = run_command(status_cmd + " --json");
    if (live.exit_code == 0) {
      auto p = nlohmann::json::parse(live.output, nullptr, false);
      if (!p.is_discarded() && p["sweep"].is_object() && p["sweep"]["finished"].get<int>() >= 1)
        break;
    }
    sleep_seconds(0.2);
  }
  CommandResult text = run_command(status_cmd);
  job.signal_leader(SIGUSR1);
  ASSERT_EQ(job.wait(), 75) << job.output();

  ASSERT_EQ(live.exit_code, 0) << live.output;
  auto j = nlohmann::json::parse(live.output);
  EXPECT_TRUE(j["live"].get<bool>()) << live.output;
  EXPECT_EQ(j["sweep"]["state"], "running");
  EXPECT_EQ(j["sweep"]["total"], 6);
  EXPECT_EQ(j["sweep"]["ranks"], 3);
  EXPECT_GE(j["sweep"]["finished"].get<int>(), 1);
  ASSERT_FALSE(j["sweep"]["eta_seconds"].is_null()) << live.output;
  EXPECT_GT(j["sweep"]["eta_seconds"].get<double>(), 0.0);
  ASSERT_GE(j["sweep"]["running_runs"].size(), 1u) << live.output;
  for (auto& r : j["sweep"]["running_runs"]) {
    EXPECT_GE(r["rank"].get<int>(), 1);
    EXPECT_EQ(r["run_id"].get<std::string>().size(), 16u);
  }
  EXPECT_NE(text.output.find("sweep resume is running"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("| ETA "), std::string::npos) << text.output;

  CommandResult after = run_command(status_cmd + " --json");
  ASSERT_EQ(after.exit_code, 0) << after.output;
  auto k = nlohmann::json::parse(after.output);
  EXPECT_FALSE(k["live"].get<bool>());
  EXPECT_EQ(k["sweep"]["state"], "interrupted");

  // A master killed with SIGKILL leaves "running" behind, with a pid that no longer exists.
  std::string progress_file = out + ".progress.json";
  std::ifstream in(progress_file);
  auto p = nlohmann::json::parse(std::string(std::istreambuf_iterator<char>(in), {}));
  p["state"] = "running";
  std::ofstream(progress_file) << p.dump();
  CommandResult gone = run_command(status_cmd);
  EXPECT_NE(gone.output.find("no sweep is running on it"), std::string::npos) << gone.output;
  EXPECT_EQ(gone.output.find("is running ("), std::string::npos) << gone.output;
}
