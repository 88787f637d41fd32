// tinyfront under a real Slurm: a private one-node cluster (munged, slurmctld, slurmd started by
// tests/slurm/start_slurm.sh for each test process, stopped by stop_slurm.sh afterwards) runs
// `tinyfront submit` jobs. What is checked:
//   * a submitted sweep completes and equals a plain mpirun sweep, run for run;
//   * SIGUSR1 (scancel --signal=USR1 --batch): checkpoint, exit 75, requeue, resume, completion,
//     results bit-identical to an uninterrupted sweep;
//   * the real time limit: --time=2 with SIGUSR1 60 s before: the job requeues itself until
//     done, nothing lost, no run repeated;
//   * a cancelled job is not requeued, and submitting it again resumes it;
//   * a two-shard job array plus `tinyfront merge` equals the unsharded sweep;
//   * a bad spec or bad options submit nothing; --dry-run writes a complete script.
// If the cluster cannot start, every test fails with the daemons' logs.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "mpi_helpers.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/spec/sweep_spec.hpp"
#include "tinyfront/store/results_file.hpp"

using namespace tinyfront;
using namespace tinyfront::testing_support;
namespace fs = std::filesystem;

namespace {

const std::string kSource = TINYFRONT_SOURCE_DIR;
const std::string kBinary = TINYFRONT_BINARY;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t a = 0;
  while (a < s.size() && std::isspace(static_cast<unsigned char>(s[a]))) ++a;
  return s.substr(a);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A transformer sweep on Tiny Shakespeare: `runs` = lrs x seeds, each `windows` windows long
// (about 12 s per 100000 windows at context 32 on one core of the test machine).
std::string transformer_spec(const std::string& name, int context, int windows,
                             const std::string& lrs, const std::string& seeds) {
  return "[sweep]\nname = \"" + name +
         "\"\n"
         "[defaults]\n"
         "data.path = \"" +
         shakespeare_path() +
         "\"\n"
         "model.arch = \"transformer\"\nmodel.layers = 2\nmodel.heads = 4\nmodel.ff = 64\n"
         "model.d_model = 32\nmodel.context = " +
         std::to_string(context) +
         "\n"
         "train.epochs = 1\ntrain.windows_per_epoch = " +
         std::to_string(windows) +
         "\n"
         "train.batch = 32\ntrain.eval_windows = 500\n"
         "[grid]\ntrain.lr = " +
         lrs + "\ntrain.seed = " + seeds + "\n";
}

std::map<std::string, RunRecord> by_id(const std::vector<RunRecord>& v) {
  std::map<std::string, RunRecord> m;
  for (auto& r : v) m[r.run_id] = r;
  return m;
}

// Same runs, every one done, identical metrics (bit for bit).
void expect_same_runs(const std::map<std::string, RunRecord>& got,
                      const std::map<std::string, RunRecord>& want, const std::string& context) {
  ASSERT_EQ(got.size(), want.size()) << context;
  for (auto& [id, w] : want) {
    auto it = got.find(id);
    ASSERT_NE(it, got.end()) << "run " << id << " missing\n" << context;
    const RunRecord& g = it->second;
    EXPECT_EQ(g.result.status, RunStatus::done) << id << "\n" << context;
    EXPECT_EQ(g.result.test_nll, w.result.test_nll) << id << "\n" << context;
    EXPECT_EQ(g.result.best_val_nll, w.result.best_val_nll) << id;
    EXPECT_EQ(g.result.steps, w.result.steps) << id;
    EXPECT_EQ(g.result.flops_exact, w.result.flops_exact) << id;
  }
}

// `key=value` fields of `scontrol show job -o JOB` (one line per job).
std::map<std::string, std::string> job_fields(const std::string& job) {
  CommandResult r = run_command("scontrol show job -o " + job);
  std::map<std::string, std::string> f;
  if (r.exit_code != 0) return f;
  std::string line = r.output.substr(0, r.output.find('\n'));
  static const std::regex kv(R"(([A-Za-z:/]+)=(\S*))");
  for (auto it = std::sregex_iterator(line.begin(), line.end(), kv); it != std::sregex_iterator();
       ++it)
    f.emplace((*it)[1].str(), (*it)[2].str());
  return f;
}

bool in_queue(const std::string& job) {
  CommandResult r = run_command("squeue -h -j " + job + " -o %T");
  return r.exit_code == 0 && !trim(r.output).empty();
}

// What a results file holds at one instant: status, finished_at and steps per run.
struct Snapshot {
  int restarts = 0;
  std::map<std::string, RunRecord> runs;
  std::set<std::string> checkpointed;  // run ids with a checkpoint file
};

// Polls a job until it has left the queue (or `timeout` seconds), taking a snapshot of the
// results file each time Slurm's restart count of the job goes up (the job has just been
// requeued: what the file holds then is what the earlier allocations did).
std::vector<Snapshot> watch_job(const std::string& job, const std::string& results, double timeout,
                                bool* finished) {
  std::vector<Snapshot> snaps;
  int restarts = 0;
  const double t0 = now_seconds();
  *finished = false;
  while (now_seconds() - t0 < timeout) {
    auto f = job_fields(job);
    int r = f.count("Restarts") ? std::atoi(f["Restarts"].c_str()) : 0;
    if (r > restarts) {
      restarts = r;
      Snapshot s;
      s.restarts = r;
      if (fs::exists(results)) s.runs = by_id(store_read_runs(results));
      for (auto& [id, rec] : s.runs)
        if (fs::exists(results + ".ckpt/" + id + ".h5")) s.checkpointed.insert(id);
      snaps.push_back(std::move(s));
    }
    if (!in_queue(job)) {
      *finished = true;
      break;
    }
    sleep_seconds(0.2);
  }
  return snaps;
}

// Cancels a job that is still queued or running when a test ends (a failed assertion), and waits
// for it to be gone, so that it does not write into the test's directory after it is removed.
struct JobGuard {
  std::string job;
  explicit JobGuard(std::string id) : job(std::move(id)) {}
  ~JobGuard() {
    if (job.empty() || !in_queue(job)) return;
    run_command("scancel " + job);
    for (int i = 0; i < 120 && in_queue(job); ++i) sleep_seconds(0.25);
  }
};

std::string submit_output_job_id(const CommandResult& r) {
  // `tinyfront submit` prints the job id alone on stdout, its notes on stderr (both captured).
  static const std::regex id(R"((^|\n)(\d+)\n)");
  std::smatch m;
  if (std::regex_search(r.output, m, id)) return m[2].str();
  return "";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// The fixture: one private cluster per test process (ctest runs each test in its own process).

class Slurm : public ::testing::Test {
 protected:
  static inline std::unique_ptr<TempDir> cluster;
  static inline std::string start_failure;
  static inline std::string conf;

  static void SetUpTestSuite() {
    cluster = std::make_unique<TempDir>("slurm_cluster");
    const double t0 = now_seconds();
    CommandResult r = run_command("bash " + kSource + "/tests/slurm/start_slurm.sh " +
                                  cluster->path.string() + " " + std::to_string(getpid()));
    if (r.exit_code != 0) {
      start_failure = "tests/slurm/start_slurm.sh failed (exit " + std::to_string(r.exit_code) +
                      "):\n" + r.output;
      return;
    }
    conf = (cluster->path / "slurm.conf").string();
    setenv("SLURM_CONF", conf.c_str(), 1);
    std::fprintf(stderr, "[slurm] %s (%.1f s)\n", trim(r.output).c_str(), now_seconds() - t0);
  }

  static void TearDownTestSuite() {
    if (!cluster) return;
    CommandResult r =
        run_command("bash " + kSource + "/tests/slurm/stop_slurm.sh " + cluster->path.string());
    EXPECT_EQ(r.exit_code, 0) << "stop_slurm.sh: " << r.output;
    cluster.reset();
    unsetenv("SLURM_CONF");
  }

  void SetUp() override {
    ASSERT_TRUE(start_failure.empty()) << "the test Slurm cluster did not start\n" << start_failure;
  }

  // Everything a failed test needs to see: the job's log(s) and the daemons' logs.
  static std::string diagnostics(const std::string& job_log_glob) {
    CommandResult logs = run_command("for f in " + job_log_glob +
                                     "; do echo \"===== $f\"; grep -v ' finished (' \"$f\"; done");
    std::string d = logs.output;
    for (const char* f : {"log/slurmctld.log", "log/slurmd.log"})
      d += "\n===== " + std::string(f) + " (tail)\n" +
           run_command("tail -n 30 " + (cluster->path / f).string()).output;
    return d;
  }
};

TEST_F(Slurm, SubmittedQuickSweepCompletesAndEqualsMpirun) {
  TempDir dir("slurm_quick");
  const std::string spec = kSource + "/sweeps/quick.toml";
  const std::string sets = " --set train.windows_per_epoch=3000 --set train.eval_windows=1000";
  std::string ref = dir.file("ref.h5");
  CommandResult rr = run_command(mpiexec(2, "sweep " + spec + " --out " + ref + " --quiet" + sets));
  ASSERT_EQ(rr.exit_code, 0) << rr.output;

  std::string out = dir.file("quick.h5");
  CommandResult s = run_command(kBinary + " submit " + spec + " --out " + out +
                                " --ntasks-per-node 2 --time 10 --launcher srun" + sets);
  ASSERT_EQ(s.exit_code, 0) << s.output;
  std::string job = submit_output_job_id(s);
  ASSERT_FALSE(job.empty()) << s.output;
  JobGuard guard_job(job);
  EXPECT_TRUE(fs::exists(dir.file("quick.sbatch"))) << s.output;

  bool finished = false;
  watch_job(job, out, 240, &finished);
  const std::string diag = diagnostics((dir.path / "quick-*.out").string());
  ASSERT_TRUE(finished) << "job " << job << " did not finish\n" << diag;
  auto f = job_fields(job);
  EXPECT_EQ(f["JobState"], "COMPLETED") << diag;
  EXPECT_EQ(f["ExitCode"], "0:0") << diag;
  EXPECT_EQ(f["Restarts"], "0") << diag;
  expect_same_runs(by_id(store_read_runs(out)), by_id(store_read_runs(ref)), diag);
  // Ranks 1 (the worker) trained everything, under srun --mpi=pmix.
  const std::string log = read_file(dir.file("quick-" + job + ".out"));
  EXPECT_NE(log.find("2 ranks x 1 threads, launcher srun"), std::string::npos) << diag;
  EXPECT_NE(log.find("sweep exited with code 0"), std::string::npos) << diag;
}

TEST_F(Slurm, Usr1CheckpointsRequeuesAndResumesBitIdentical) {
  TempDir dir("slurm_usr1");
  // 6 runs of about 2 s each on one worker.
  std::string spec =
      dir.file("usr1.toml", transformer_spec("usr1", 16, 30000, "[1e-3, 2e-3, 3e-3]", "[1, 2]"));
  std::string ref = dir.file("ref.h5");
  CommandResult rr = run_command(mpiexec(2, "sweep " + spec + " --out " + ref + " --quiet"));
  ASSERT_EQ(rr.exit_code, 0) << rr.output;

  std::string out = dir.file("usr1.h5");
  CommandResult s =
      run_command(kBinary + " submit " + spec + " --out " + out + " --time 10 --launcher mpirun");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  std::string job = submit_output_job_id(s);
  ASSERT_FALSE(job.empty()) << s.output;
  JobGuard guard_job(job);

  // Signal once at least one run is recorded and others remain: the running one is checkpointed.
  const double t0 = now_seconds();
  size_t recorded = 0;
  while (now_seconds() - t0 < 120) {
    if (fs::exists(out)) {
      recorded = store_read_runs(out).size();
      if (recorded >= 1) break;
    }
    sleep_seconds(0.1);
  }
  ASSERT_GE(recorded, 1u) << diagnostics((dir.path / "usr1-*.out").string());
  CommandResult sig = run_command("scancel --signal=USR1 --batch " + job);
  ASSERT_EQ(sig.exit_code, 0) << sig.output;

  bool finished = false;
  std::vector<Snapshot> snaps = watch_job(job, out, 240, &finished);
  const std::string diag = diagnostics((dir.path / "usr1-*.out").string());
  ASSERT_TRUE(finished) << diag;
  auto f = job_fields(job);
  EXPECT_EQ(f["JobState"], "COMPLETED") << diag;
  EXPECT_EQ(f["ExitCode"], "0:0") << diag;
  EXPECT_EQ(f["Restarts"], "1") << diag;
  ASSERT_EQ(snaps.size(), 1u) << diag;

  // At the requeue: some runs done, the running one preempted with a checkpoint.
  auto reference = by_id(store_read_runs(ref));
  int done = 0;
  std::string preempted;
  for (auto& [id, rec] : snaps[0].runs) {
    done += rec.result.status == RunStatus::done;
    if (rec.result.status == RunStatus::preempted) {
      EXPECT_TRUE(preempted.empty()) << "two preempted runs: " << preempted << " " << id;
      preempted = id;
      EXPECT_LT(rec.result.steps, reference.at(id).result.steps) << id;
      EXPECT_TRUE(snaps[0].checkpointed.count(id)) << "no checkpoint for " << id;
    }
  }
  EXPECT_GE(done, 1) << diag;
  EXPECT_LT(done, 6) << diag;
  EXPECT_FALSE(preempted.empty()) << diag;

  auto final_runs = by_id(store_read_runs(out));
  expect_same_runs(final_runs, reference, diag);
  // Runs done before the requeue were not run again.
  for (auto& [id, rec] : snaps[0].runs) {
    if (rec.result.status == RunStatus::done) {
      EXPECT_EQ(final_runs.at(id).finished_at, rec.finished_at) << "ran twice: " << id;
    }
  }
  const std::string log = read_file(dir.file("usr1-" + job + ".out"));
  for (const char* line :
       {"got SIGUSR1: asking the sweep to checkpoint", "sweep exited with code 75",
        "checkpointed; requeueing", "requeued", "start (restart 1)", "sweep exited with code 0"})
    EXPECT_NE(log.find(line), std::string::npos) << "no '" << line << "' in the log\n" << diag;
  // The resumed run's checkpoint is gone once it is done.
  if (!preempted.empty()) {
    EXPECT_FALSE(fs::exists(out + ".ckpt/" + preempted + ".h5"));
  }
}

// The real time-limit path: --time=2, SIGUSR1 60 s before. Slurm checks time limits every 30 s
// and sends the warning at the first check less than 30 s before it is due, so it comes 60 to
// 90 s before the limit. About 95 s of work on one worker: the first allocation is warned,
// checkpoints and requeues itself; the next one (or the one after) finishes.
TEST_F(Slurm, TimeLimitWarningRequeuesUntilDoneNothingLostNothingRepeated) {
  TempDir dir("slurm_timelimit");
  // Work sized to this machine now: 8 runs of at least 15 s of training each (from the training
  // throughput of one 20000-window run: its wall time also holds start-up and evaluation, which
  // do not grow with the windows, and sized runs from it came out up to 2x short on a loaded
  // machine), so the sweep outlasts the latest possible warning (60 s after the start) by a good
  // margin even if the machine is twice as fast during the job as during the measurement.
  std::string calib = dir.file("calib.toml", transformer_spec("calib", 32, 20000, "[1e-3]", "[1]"));
  CommandResult c =
      run_command(mpiexec(2, "sweep " + calib + " --out " + dir.file("calib.h5") + " --quiet"));
  ASSERT_EQ(c.exit_code, 0) << c.output;
  const TrainResult calib_run = store_read_runs(dir.file("calib.h5")).at(0).result;
  const double windows_per_second = calib_run.tokens_per_second / 32.0;  // T = 32
  const int windows = std::clamp(int(windows_per_second * 15.0) / 1000 * 1000, 20000, 1000000);
  std::fprintf(stderr,
               "[slurm] 20000 windows took %.2f s (%.0f windows/s training): %d windows per run\n",
               calib_run.wall_seconds, windows_per_second, windows);
  std::string spec = dir.file(
      "tl.toml", transformer_spec("timelimit", 32, windows, "[1e-3, 2e-3, 3e-3, 4e-3]", "[1, 2]"));
  std::string out = dir.file("tl.h5");
  const double t0 = now_seconds();
  CommandResult s = run_command(kBinary + " submit " + spec + " --out " + out +
                                " --time 2 --signal-seconds 60 --launcher srun");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  EXPECT_NE(s.output.find("SIGUSR1 60 s before"), std::string::npos) << s.output;
  std::string job = submit_output_job_id(s);
  ASSERT_FALSE(job.empty()) << s.output;
  JobGuard guard_job(job);

  bool finished = false;
  std::vector<Snapshot> snaps = watch_job(job, out, 420, &finished);
  const std::string diag = diagnostics((dir.path / "tl-*.out").string());
  ASSERT_TRUE(finished) << diag;
  std::fprintf(stderr, "[slurm] time-limit job %s: %.0f s, %zu requeue(s)\n", job.c_str(),
               now_seconds() - t0, snaps.size());
  auto f = job_fields(job);
  EXPECT_EQ(f["JobState"], "COMPLETED") << diag;
  EXPECT_EQ(f["ExitCode"], "0:0") << diag;
  ASSERT_GE(snaps.size(), 1u) << "never requeued\n" << diag;
  EXPECT_EQ(f["Restarts"], std::to_string(snaps.size())) << diag;

  // Nothing lost: every run of the spec done, with its whole budget.
  SweepSpec sp = load_sweep_spec(spec);
  auto final_runs = by_id(store_read_runs(out));
  ASSERT_EQ(final_runs.size(), sp.runs.size()) << diag;
  for (auto& r : sp.runs) {
    auto it = final_runs.find(run_id(r));
    ASSERT_NE(it, final_runs.end()) << run_id(r) << "\n" << diag;
    EXPECT_EQ(it->second.result.status, RunStatus::done) << diag;
    EXPECT_EQ(it->second.result.train_windows, windows) << run_id(r);
  }
  // Nothing repeated: a run done when the job was requeued keeps that record.
  int preempted = 0;
  for (auto& snap : snaps)
    for (auto& [id, rec] : snap.runs) {
      if (rec.result.status == RunStatus::done) {
        EXPECT_EQ(final_runs.at(id).finished_at, rec.finished_at) << "ran twice: " << id;
      }
      if (rec.result.status == RunStatus::preempted) {
        ++preempted;
        EXPECT_TRUE(snap.checkpointed.count(id)) << "no checkpoint for preempted " << id;
      }
    }
  EXPECT_GE(preempted, 1) << "no run was checkpointed at a requeue\n" << diag;
  // The job's log and slurmctld's log show the signal and the requeue.
  const std::string log = read_file(dir.file("tl-" + job + ".out"));
  for (const char* line : {"got SIGUSR1: asking the sweep to checkpoint",
                           "sweep exited with code 75", "checkpointed; requeueing (job RUNNING",
                           "requeued", "start (restart 1)", "sweep exited with code 0"})
    EXPECT_NE(log.find(line), std::string::npos) << "no '" << line << "' in the log\n" << diag;
  const std::string ctld = read_file((cluster->path / "log/slurmctld.log").string());
  EXPECT_NE(ctld.find("Requeuing JobId=" + job), std::string::npos) << diag;
}

// scancel: the job ends (srun kills the ranks), the batch script does not requeue a cancelled
// job, the results file keeps what was recorded, and submitting the same sweep again resumes it.
TEST_F(Slurm, CancelledJobIsNotRequeuedAndSubmittingAgainResumes) {
  TempDir dir("slurm_cancel");
  std::string spec = dir.file(
      "cancel.toml", transformer_spec("cancel", 16, 30000, "[1e-3, 2e-3, 3e-3]", "[1, 2]"));
  std::string out = dir.file("cancel.h5");
  const std::string submit =
      kBinary + " submit " + spec + " --out " + out + " --time 10 --launcher srun";
  CommandResult s = run_command(submit);
  ASSERT_EQ(s.exit_code, 0) << s.output;
  std::string job = submit_output_job_id(s);
  ASSERT_FALSE(job.empty()) << s.output;
  JobGuard guard_job(job);
  const double t0 = now_seconds();
  while (now_seconds() - t0 < 120 && !(fs::exists(out) && !store_read_runs(out).empty()))
    sleep_seconds(0.1);
  ASSERT_TRUE(fs::exists(out)) << diagnostics((dir.path / "cancel-*.out").string());
  CommandResult c = run_command("scancel " + job);
  ASSERT_EQ(c.exit_code, 0) << c.output;

  bool finished = false;
  std::vector<Snapshot> snaps = watch_job(job, out, 60, &finished);
  std::string diag = diagnostics((dir.path / "cancel-*.out").string());
  ASSERT_TRUE(finished) << diag;
  auto f = job_fields(job);
  EXPECT_EQ(f["JobState"], "CANCELLED") << diag;
  EXPECT_EQ(f["Restarts"], "0") << diag;
  EXPECT_TRUE(snaps.empty()) << diag;
  sleep_seconds(2);  // a requeue would show by now
  EXPECT_FALSE(in_queue(job)) << diag;
  auto before = by_id(store_read_runs(out));
  int done_before = 0;
  for (auto& [id, rec] : before) done_before += rec.result.status == RunStatus::done;
  EXPECT_GE(done_before, 1) << diag;
  EXPECT_LT(done_before, 6) << diag;

  // Submitting again resumes: the runs done before are skipped and keep their records.
  CommandResult s2 = run_command(submit);
  ASSERT_EQ(s2.exit_code, 0) << s2.output;
  EXPECT_NE(s2.output.find("(exists: the job resumes it)"), std::string::npos) << s2.output;
  std::string job2 = submit_output_job_id(s2);
  ASSERT_FALSE(job2.empty()) << s2.output;
  JobGuard guard_job2(job2);
  watch_job(job2, out, 240, &finished);
  diag = diagnostics((dir.path / "cancel-*.out").string());
  ASSERT_TRUE(finished) << diag;
  EXPECT_EQ(job_fields(job2)["JobState"], "COMPLETED") << diag;
  auto final_runs = by_id(store_read_runs(out));
  ASSERT_EQ(final_runs.size(), 6u) << diag;
  for (auto& [id, rec] : final_runs) {
    EXPECT_EQ(rec.result.status, RunStatus::done) << id << "\n" << diag;
    EXPECT_EQ(rec.result.train_windows, 30000) << id;
    if (before.count(id) && before.at(id).result.status == RunStatus::done) {
      EXPECT_EQ(rec.finished_at, before.at(id).finished_at) << "ran twice: " << id;
    }
  }
  const std::string log1 = read_file(dir.file("cancel-" + job + ".out"));
  EXPECT_EQ(log1.find("requeueing"), std::string::npos) << diag;
  EXPECT_NE(log1.find("not requeued"), std::string::npos) << diag;
  const std::string log2 = read_file(dir.file("cancel-" + job2 + ".out"));
  EXPECT_NE(log2.find("resuming " + out + ": " + std::to_string(done_before) + " of 6 runs"),
            std::string::npos)
      << diag;
}

TEST_F(Slurm, TwoShardJobArrayPlusMergeEqualsUnshardedSweep) {
  TempDir dir("slurm_array");
  // 8 runs of about 2 s; each shard is one rank that trains its runs itself.
  std::string spec = dir.file(
      "arr.toml", transformer_spec("arr", 16, 30000, "[1e-3, 2e-3, 3e-3, 4e-3]", "[1, 2]"));
  std::string ref = dir.file("ref.h5");
  CommandResult rr = run_command(mpiexec(2, "sweep " + spec + " --out " + ref + " --quiet"));
  ASSERT_EQ(rr.exit_code, 0) << rr.output;

  std::string out = dir.file("arr.h5");
  CommandResult s = run_command(kBinary + " submit " + spec + " --out " + out +
                                " --shards 2 --ntasks-per-node 1 --time 10 --launcher mpirun");
  ASSERT_EQ(s.exit_code, 0) << s.output;
  std::string job = submit_output_job_id(s);
  ASSERT_FALSE(job.empty()) << s.output;
  JobGuard guard_job(job);
  const std::string shard0 = dir.file("arr.shard0-of-2.h5");
  const std::string shard1 = dir.file("arr.shard1-of-2.h5");
  EXPECT_NE(s.output.find("tinyfront merge " + shard0 + " " + shard1 + " -o " + out),
            std::string::npos)
      << s.output;

  bool finished = false;
  watch_job(job, out, 240, &finished);
  const std::string diag = diagnostics((dir.path / "arr-*.out").string());
  ASSERT_TRUE(finished) << diag;
  for (int i = 0; i < 2; ++i) {
    auto f = job_fields(job + "_" + std::to_string(i));
    EXPECT_EQ(f["JobState"], "COMPLETED") << "task " << i << "\n" << diag;
    EXPECT_EQ(f["ExitCode"], "0:0") << "task " << i << "\n" << diag;
  }
  ASSERT_TRUE(fs::exists(shard0) && fs::exists(shard1)) << diag;
  // Each shard file holds exactly its shard's runs.
  SweepSpec sp = load_sweep_spec(spec);
  for (int i = 0; i < 2; ++i) {
    auto recs = by_id(store_read_runs(i == 0 ? shard0 : shard1));
    size_t expected = 0;
    for (auto& r : sp.runs)
      if (in_shard(run_id(r), i, 2)) {
        ++expected;
        EXPECT_TRUE(recs.count(run_id(r))) << "shard " << i << " lacks " << run_id(r);
      }
    EXPECT_EQ(recs.size(), expected) << "shard " << i;
  }
  CommandResult m = run_command(kBinary + " merge " + shard0 + " " + shard1 + " -o " + out);
  ASSERT_EQ(m.exit_code, 0) << m.output;
  expect_same_runs(by_id(store_read_runs(out)), by_id(store_read_runs(ref)), diag);
}

TEST_F(Slurm, BadSpecOrOptionsSubmitNothingAndDryRunWritesACompleteScript) {
  TempDir dir("slurm_bad");
  std::string good = dir.file("good.toml", transformer_spec("good", 8, 1000, "[1e-3]", "[1]"));
  std::string bad = dir.file(
      "bad.toml", transformer_spec("bad", 8, 1000, "[1e-3]", "[1]") + "model.colour = [1]\n");
  std::string out = dir.file("r.h5");
  auto queue_empty = [] { return trim(run_command("squeue -h -o %i").output).empty(); };

  CommandResult r = run_command(kBinary + " submit " + bad + " --out " + out);
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("model.colour: unknown key"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("r.sbatch")));
  for (const char* opts : {"--time 1:2:3:4", "--time 2 --signal-seconds 120", "--time 1",
                           "--launcher ssh", "--nodes 0", "--out r.txt"}) {
    CommandResult o = run_command(kBinary + " submit " + good + " --out " + out + " " + opts);
    EXPECT_NE(o.exit_code, 0) << opts << "\n" << o.output;
    EXPECT_FALSE(fs::exists(dir.file("r.sbatch"))) << opts;
  }
  // The spec's limits are checked as the sweep would, before anything is submitted.
  std::string limited =
      dir.file("limited.toml", "[sweep]\nmax_total_flops = 1e6\n" +
                                   transformer_spec("lim", 8, 1000, "[1e-3]", "[1]").substr(8));
  CommandResult lim = run_command(kBinary + " submit " + limited + " --out " + out);
  EXPECT_EQ(lim.exit_code, 2) << lim.output;
  EXPECT_NE(lim.output.find("exceed sweep.max_total_flops"), std::string::npos) << lim.output;
  EXPECT_FALSE(fs::exists(dir.file("r.sbatch")));
  EXPECT_TRUE(queue_empty());

  // --dry-run: the script is written, complete and valid bash; sbatch is not called.
  CommandResult d = run_command(kBinary + " submit " + good + " --out " + out +
                                " --nodes 2 --ntasks-per-node 3 --cpus-per-task 2 --time 1:30:00 "
                                "--partition debug --launcher mpirun --set 'train.lr=2e-3' "
                                "--dry-run --json");
  ASSERT_EQ(d.exit_code, 0) << d.output;
  auto j = nlohmann::json::parse(d.output.substr(d.output.find('{')));
  EXPECT_TRUE(j["job_id"].is_null());
  EXPECT_EQ(j["signal_seconds"], 300);
  EXPECT_EQ(j["ranks"], 6);
  const std::string script = j["script"];
  EXPECT_EQ(script, dir.file("r.sbatch"));
  const std::string text = read_file(script);
  for (const char* line :
       {"#SBATCH --nodes=2\n", "#SBATCH --ntasks-per-node=3\n", "#SBATCH --cpus-per-task=2\n",
        "#SBATCH --time=1:30:00\n", "#SBATCH --partition=debug\n", "#SBATCH --signal=B:USR1@300\n",
        "#SBATCH --requeue\n", "#SBATCH --open-mode=append\n", "LAUNCHER=mpirun\n",
        "SWEEP_ARGS=(--set train.lr=2e-3)\n"})
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  EXPECT_NE(text.find("#SBATCH --output=" + dir.file("r-%j.out")), std::string::npos) << text;
  // No placeholder left outside comments.
  std::istringstream lines(text);
  std::string l;
  while (std::getline(lines, l)) {
    if (l.rfind("# ", 0) != 0 && l != "#") {
      EXPECT_EQ(l.find("{{"), std::string::npos) << l;
    }
  }
  CommandResult syntax = run_command("bash -n " + script);
  EXPECT_EQ(syntax.exit_code, 0) << syntax.output;
  EXPECT_TRUE(queue_empty());
}
