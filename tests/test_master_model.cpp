// The discrete-event model of the sweep master (issue 17): checked against what queueing says it
// must give at the extremes (an idle master, a saturated master with and without group commit).
#include <gtest/gtest.h>

#include "tinyfront/sweep/master_model.hpp"

using namespace tinyfront;

TEST(MasterModel, LightLoadKeepsWorkersBusy) {
  MasterModelInputs in;
  in.workers = 100, in.run_seconds = 60;
  const MasterModelResult r = simulate_master(in);
  // 100 workers finishing a run a minute: 1.7 results/s, each costing the master ~0.3 ms.
  EXPECT_NEAR(r.results_per_second, 100.0 / 60, 0.2);
  EXPECT_GT(r.efficiency, 0.999);
  EXPECT_LT(r.master_utilisation, 0.01);
  EXPECT_LT(r.mean_wait_seconds, 1e-3);
}

TEST(MasterModel, SaturatedMasterStoresAtItsServiceRate) {
  // 10,000 workers with 1 s runs want 10,000 results/s. One fsync per result (0.24 ms) plus
  // dispatch (0.1 ms) serves at most 1 / 0.34 ms = 2,941 results/s: the master is the bottleneck
  // and workers train about 29% of the time.
  MasterModelInputs in;
  in.workers = 10000, in.run_seconds = 1, in.run_spread = 0.2;
  in.dispatch_seconds = 1e-4, in.append_seconds = 2.4e-4, in.record_seconds = 5e-6;
  in.group_commit = false;
  const MasterModelResult one = simulate_master(in);
  EXPECT_NEAR(one.results_per_second, 1.0 / 3.4e-4, 150);
  EXPECT_GT(one.master_utilisation, 0.97);
  EXPECT_NEAR(one.efficiency, 0.29, 0.05);
  EXPECT_NEAR(one.mean_group_size, 1.0, 1e-12);
  // Group commit: the results waiting share one fsync; the service rate is near 1/dispatch and
  // nearly every result is stored as it comes.
  in.group_commit = true;
  const MasterModelResult group = simulate_master(in);
  EXPECT_GT(group.results_per_second, 8500);
  EXPECT_GT(group.mean_group_size, 2.0);
  EXPECT_GT(group.efficiency, 0.85);
  EXPECT_GT(group.results_per_second, 2.5 * one.results_per_second);
}

TEST(MasterModel, CheckpointsCostMasterTime) {
  MasterModelInputs in;
  in.workers = 1000, in.run_seconds = 10, in.run_spread = 0;
  in.checkpoint_every_seconds = 1, in.checkpoint_seconds = 2e-3;  // 1,000 checkpoints/s x 2 ms
  const MasterModelResult r = simulate_master(in);
  // Checkpoints alone ask for 2 s of master time per second: the master saturates.
  EXPECT_GT(r.master_utilisation, 0.97);
  EXPECT_LT(r.efficiency, 0.6);
  in.checkpoint_seconds = 2e-5;
  EXPECT_GT(simulate_master(in).efficiency, 0.99);
}
