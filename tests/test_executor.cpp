// How a rank executes a run (mpi/executor.hpp), in this process: the simulated executor sleeps
// its share of the run's estimate; a run that fails is recorded as failed, not thrown.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "tinyfront/mpi/executor.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/util/auto_threads.hpp"

using namespace tinyfront;

namespace {

mpi_protocol::RunMessage message_for(const RunConfig& c, double estimated_seconds) {
  mpi_protocol::RunMessage m;
  m.config_json = config_to_json(c).dump();
  m.estimated_seconds = estimated_seconds;
  return m;
}

RunChannel no_channel() {
  RunChannel ch;
  ch.should_stop = [] { return false; };
  return ch;
}

}  // namespace

TEST(Executor, SimulatedRunSleepsItsShareOfTheEstimate) {
  RunConfig c;
  c.train.threads = 2;
  auto exec = make_simulated_executor(1e-3);
  const auto t0 = std::chrono::steady_clock::now();
  const RunRecord r = execute_run(*exec, message_for(c, 50.0), 3, no_channel());
  const double slept = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(r.result.status, RunStatus::done);
  EXPECT_DOUBLE_EQ(r.result.wall_seconds, 0.05);
  EXPECT_GE(slept, 0.05);
  EXPECT_TRUE(std::isnan(r.result.test_nll));
  EXPECT_EQ(r.run_id, run_id(c));
  EXPECT_EQ(r.rank, 3);
  EXPECT_LE(r.started_at, r.finished_at);
}

TEST(Executor, AutoThreadsAreResolvedWhereTheRunExecutes) {
  RunConfig c;
  c.train.threads = kAutoThreads;
  auto exec = make_simulated_executor(0);
  const RunRecord r = execute_run(*exec, message_for(c, 1.0), 1, no_channel());
  EXPECT_GE(r.config.train.threads, 1);
  EXPECT_EQ(r.run_id, run_id(r.config));
}

TEST(Executor, TrainingRunThatFailsIsRecordedAsFailed) {
  RunConfig c;
  c.train.threads = 1;
  c.data.path = "/nonexistent/tinyfront/corpus.txt";
  auto exec = make_training_executor();
  const RunRecord r = execute_run(*exec, message_for(c, 1.0), 0, no_channel());
  EXPECT_EQ(r.result.status, RunStatus::failed);
  EXPECT_NE(r.result.message.find("/nonexistent/tinyfront/corpus.txt"), std::string::npos)
      << r.result.message;
  EXPECT_TRUE(std::isnan(r.result.best_val_nll));
}
