// The sweep session (resume policy, shards, vocabulary names, checkpoint routing) and the
// progress tracker's ETA, on a real spec, corpus, results file and checkpoint directory; no MPI.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tinyfront/run/config_json.hpp"
#include "tinyfront/run/state_io.hpp"
#include "tinyfront/store/results_file.hpp"
#include "tinyfront/sweep/progress_tracker.hpp"
#include "tinyfront/sweep/session.hpp"

using namespace tinyfront;
namespace fs = std::filesystem;

namespace {

struct SessionDir {
  fs::path dir;
  SessionDir() {
    dir = fs::temp_directory_path() /
          ("tinyfront_session_" + std::to_string(getpid()) + "_" +
           ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~SessionDir() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  // A grid of two linear runs on Tiny Shakespeare.
  std::string spec(const std::string& extra = "") const {
    const fs::path p = dir / "spec.toml";
    std::ofstream(p) << "[sweep]\nname = \"s\"\n[defaults]\ndata.path = \"" << TINYFRONT_SOURCE_DIR
                     << "/data/tinyshakespeare.txt\"\nmodel.arch = \"linear\"\n"
                        "model.context = 8\nmodel.d_model = 16\ntrain.protocol = \"paper\"\n"
                        "train.epochs = 1\ntrain.windows_per_epoch = 64\n"
                        "[grid]\ntrain.lr = [1e-3, 3e-3]\n"
                     << extra;
    return p.string();
  }
  SessionOptions options() const {
    SessionOptions o;
    o.spec_path = spec();
    o.out = (dir / "results.h5").string();
    return o;
  }
};

RunRecord finished(const RunConfig& c, RunStatus status) {
  RunRecord r;
  r.config = c;
  r.run_id = run_id(c);
  r.result.status = status;
  r.result.test_nll = r.result.best_val_nll = status == RunStatus::done ? 3.0 : std::nan("");
  return r;
}

}  // namespace

TEST(SweepSession, ResumePolicy) {
  EXPECT_TRUE(should_run(std::nullopt, false));
  EXPECT_FALSE(should_run(RunStatus::done, true));
  EXPECT_FALSE(should_run(RunStatus::diverged, true));
  EXPECT_FALSE(should_run(RunStatus::failed, false));
  EXPECT_TRUE(should_run(RunStatus::failed, true));
  EXPECT_TRUE(should_run(RunStatus::preempted, false));
}

TEST(SweepSession, ParseShard) {
  EXPECT_EQ(parse_shard("").count, 1);
  const Shard s = parse_shard("2/5");
  EXPECT_EQ(s.index, 2);
  EXPECT_EQ(s.count, 5);
  for (const char* bad : {"5/5", "-1/4", "1/0", "1/4x", "1 /4", "+1/4", "a/b", "1"})
    EXPECT_THROW(parse_shard(bad), SpecError) << bad;
}

TEST(SweepSession, VocabularyNamesKeepDataConfigsThatShareAName) {
  RunConfig a, b, c;
  a.data.name = b.data.name = "shakespeare";
  b.data.tokenizer = TokenizerKind::words;
  c.data.name = "ptb";
  const auto names = vocabulary_names({a, b, a, c});
  ASSERT_EQ(names.size(), 3u);
  EXPECT_EQ(names[0].first.rfind("shakespeare.", 0), 0u);
  EXPECT_EQ(names[1].first.rfind("shakespeare.", 0), 0u);
  EXPECT_NE(names[0].first, names[1].first);
  EXPECT_EQ(names[2].first, "ptb");
  EXPECT_EQ(vocabulary_names({a, a})[0].first, "shakespeare");  // alone, the plain name
}

TEST(SweepSession, ResumesFromTheResultsFileAndRoutesCheckpoints) {
  SessionDir d;
  SessionOptions o = d.options();
  std::string done_id, failed_id;
  {
    SweepSession s = open_sweep_session(o);
    EXPECT_TRUE(s.created);
    ASSERT_EQ(s.todo.size(), 2u);
    EXPECT_EQ(s.skipped, 0);
    EXPECT_EQ(s.checkpoints.dir, o.out + ".ckpt");
    done_id = run_id(s.todo[0]);
    failed_id = run_id(s.todo[1]);
    TrainState state;
    state.step = 3;
    state.windows_done = 7;
    s.checkpoints.write(done_id, serialize_state(state));
    s.checkpoints.write(failed_id, serialize_state(state));
    // Recorded: the done run's checkpoint goes, the preempted run keeps its own to resume from.
    session_record(s, {finished(s.todo[0], RunStatus::done)});
    session_record(s, {finished(s.todo[1], RunStatus::preempted)});
    EXPECT_FALSE(s.checkpoints.read(done_id));
    const std::optional<std::string> kept = s.checkpoints.read(failed_id);
    ASSERT_TRUE(kept);
    EXPECT_EQ(deserialize_state(*kept).windows_done, 7);
    session_close(s);
  }
  {
    SweepSession s = open_sweep_session(o);
    EXPECT_FALSE(s.created);
    EXPECT_EQ(s.skipped, 1);
    ASSERT_EQ(s.todo.size(), 1u);
    EXPECT_EQ(run_id(s.todo[0]), failed_id);
    session_record(s, {finished(s.todo[0], RunStatus::failed)});
    session_close(s);
  }
  EXPECT_EQ(open_sweep_session(o).todo.size(), 0u);
  o.retry_failed = true;
  EXPECT_EQ(open_sweep_session(o).todo.size(), 1u);
  // A shared checkpoint directory is where checkpoints go instead.
  o.shared_checkpoints = (d.dir / "shared").string();
  EXPECT_EQ(open_sweep_session(o).checkpoints.dir, o.shared_checkpoints);
}

TEST(SweepSession, BadInputLeavesNoResultsFileBehind) {
  SessionDir d;
  SessionOptions o = d.options();
  o.shard = "3/2";
  EXPECT_THROW(open_sweep_session(o), SpecError);
  o.shard = "";
  o.spec_path = d.spec("[budget]\nmode = \"nonsense\"\n");
  EXPECT_THROW(open_sweep_session(o), SpecError);
  EXPECT_FALSE(fs::exists(o.out));
  EXPECT_FALSE(fs::exists(o.out + ".journal"));
  // A shard takes its runs only; a simulated session opens no results file.
  o.spec_path = d.spec();
  o.simulate = true;
  size_t total = 0;
  for (const char* shard : {"0/2", "1/2"}) {
    o.shard = shard;
    SweepSession s = open_sweep_session(o);
    EXPECT_FALSE(s.store);
    EXPECT_EQ(s.todo.size(), s.runs.size());
    total += s.runs.size();
  }
  EXPECT_EQ(total, 2u);
  EXPECT_FALSE(fs::exists(o.out));
}

// A run resumed from a checkpoint with half its windows done is credited with half its estimate:
// the ETA after it finishes is the rest of the work at the pace measured.
TEST(ProgressTracker, EtaCountsOnlyTheRestOfAResumedRun) {
  ProgressTracker t({"a", "b"}, {10.0, 10.0});
  EXPECT_TRUE(std::isnan(t.eta_seconds(1.0)));
  t.resumed(0, 50, 100);
  EXPECT_DOUBLE_EQ(t.est_total, 15.0);
  t.started(1, {"a", "", 1, 0});
  RunRecord a;
  a.run_id = "a";
  a.result.status = RunStatus::done;
  a.result.test_nll = 2.0;
  a.config.data.name = "ds";
  t.stopped(1);
  t.finished_run(a);
  // 5 estimated seconds took 5 s: 10 estimated seconds are left, at the same pace.
  EXPECT_DOUBLE_EQ(t.eta_seconds(5.0), 10.0);
  EXPECT_EQ(t.finished, 1);
  EXPECT_EQ(t.running, 0);
  EXPECT_EQ(t.best.at("ds").test_nll, 2.0);
  // Windows beyond the run's count (another budget) credit the whole estimate, never more.
  ProgressTracker u({"a"}, {8.0});
  u.resumed(0, 300, 100);
  EXPECT_DOUBLE_EQ(u.est_total, 0.0);
}

TEST(ProgressTracker, LineAndSnapshot) {
  ProgressTracker t({"a", "b", "c"}, {1.0, 2.0, 3.0});
  t.started(2, {"b", "mlp", 2, 0});
  RunRecord f;
  f.run_id = "a";
  f.result.status = RunStatus::failed;
  t.finished_run(f);
  EXPECT_EQ(t.line("q", 3723.0),
            "[q] 1/3 finished (1 failed, 0 diverged) | 1 running | 1 left | elapsed 01:02:03 | "
            "ETA 05:10:15");
  SweepProgress p;
  t.fill(p, 2.0);
  EXPECT_EQ(p.failed, 1);
  EXPECT_EQ(p.running_runs.size(), 1u);
  EXPECT_DOUBLE_EQ(p.eta_seconds, 2.0 * 5.0 / 1.0);
}
