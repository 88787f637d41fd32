// threads_per_rank = "auto": the rule (SLURM_CPUS_PER_TASK, OMP_NUM_THREADS, affinity), this
// process's real affinity, the spec, and real MPI ranks resolving it where they run.
#include <gtest/gtest.h>
#include <sched.h>

#include <map>

#include "mpi_helpers.hpp"
#include "tinyfront/spec/sweep_spec.hpp"
#include "tinyfront/store/results_file.hpp"
#include "tinyfront/util/auto_threads.hpp"
#include "tinyfront/util/error.hpp"

using namespace tinyfront;
using namespace tinyfront::testing_support;

namespace {

std::string error_of(const char* slurm, const char* omp) {
  try {
    auto_threads_from(slurm, omp, 4);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string auto_sweep(const std::string& threads) {
  return "[sweep]\nname = \"auto\"\nthreads_per_rank = " + threads +
         "\n[defaults]\ndata.path = \"" + shakespeare_path() +
         "\"\nmodel.arch = \"mlp\"\nmodel.d_model = 8\nmodel.hidden = [32]\n"
         "train.epochs = 1\ntrain.windows_per_epoch = 640\ntrain.batch = 32\n"
         "train.eval_windows = 200\n[grid]\nmodel.context = [4, 8]\n";
}

}  // namespace

TEST(AutoThreads, SlurmFirstThenOmpThenAffinity) {
  AutoThreads a = auto_threads_from("4", "2", 8);
  EXPECT_EQ(a.threads, 4);
  EXPECT_EQ(a.source, "SLURM_CPUS_PER_TASK=4");
  a = auto_threads_from(nullptr, "3", 8);
  EXPECT_EQ(a.threads, 3);
  EXPECT_EQ(a.source, "OMP_NUM_THREADS=3");
  a = auto_threads_from(nullptr, "6,2", 8);  // nested levels: the outer one
  EXPECT_EQ(a.threads, 6);
  a = auto_threads_from(nullptr, nullptr, 8);
  EXPECT_EQ(a.threads, 8);
  EXPECT_EQ(a.source, "affinity: 8 cores");
  EXPECT_EQ(auto_threads_from(nullptr, nullptr, 0).threads, 1);
  EXPECT_EQ(auto_threads_from("100000", nullptr, 8).threads, 1024);  // the spec's limit
}

TEST(AutoThreads, MalformedVariablesAreErrorsNamingThem) {
  for (const char* bad : {"", "0", "-2", "four", "4x", " 4", "2.5"}) {
    EXPECT_NE(error_of(bad, "2").find("SLURM_CPUS_PER_TASK is \"" + std::string(bad) + "\""),
              std::string::npos)
        << bad;
    EXPECT_NE(error_of(nullptr, bad).find("OMP_NUM_THREADS is \"" + std::string(bad) + "\""),
              std::string::npos)
        << bad;
  }
  EXPECT_NE(error_of(nullptr, ",4").find("OMP_NUM_THREADS"), std::string::npos);
}

// The kernel's view: pinned to one core, this process counts one; unpinned again, all it had.
TEST(AutoThreads, AffinityIsTheCoresThisProcessMayRunOn) {
  cpu_set_t saved;
  CPU_ZERO(&saved);
  ASSERT_EQ(sched_getaffinity(0, sizeof saved, &saved), 0);
  const int all = CPU_COUNT(&saved);
  EXPECT_EQ(affinity_cores(), all);
  int first = 0;
  while (!CPU_ISSET(first, &saved)) ++first;
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
  const int pinned = affinity_cores();
  const AutoThreads a = auto_threads_from(nullptr, nullptr, pinned);
  ASSERT_EQ(sched_setaffinity(0, sizeof saved, &saved), 0);
  EXPECT_EQ(pinned, 1);
  EXPECT_EQ(a.threads, 1);
  EXPECT_EQ(affinity_cores(), all);
}

TEST(AutoThreads, SpecTakesAutoAndNamesOtherWords) {
  TempDir dir("auto_spec");
  SweepSpec s = load_sweep_spec(dir.file("a.toml", auto_sweep("\"auto\"")));
  EXPECT_EQ(s.settings.threads_per_rank, kAutoThreads);
  ASSERT_EQ(s.runs.size(), 2u);
  for (auto& r : s.runs) EXPECT_EQ(r.train.threads, kAutoThreads);
  s = load_sweep_spec(dir.file("b.toml", auto_sweep("2")), {"sweep.threads_per_rank=auto"});
  EXPECT_EQ(s.settings.threads_per_rank, kAutoThreads);
  try {
    load_sweep_spec(dir.file("c.toml", auto_sweep("\"many\"")));
    FAIL() << "\"many\" accepted";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("sweep.threads_per_rank: expected an integer or \"auto\""),
              std::string::npos)
        << e.what();
  }
}

// Real ranks: each resolves "auto" from its own environment or binding and records the count it
// trained with; the metrics equal those of the same count given explicitly.
TEST(AutoThreads, EachRankResolvesItAndTheResultsRecordIt) {
  TempDir dir("auto_mpi");
  const std::string spec = dir.file("auto.toml", auto_sweep("\"auto\""));
  auto threads_of = [&](const std::string& env, const std::string& mpi_args, const char* name) {
    const std::string out = dir.file(name);
    CommandResult r =
        run_command(env + " mpiexec -n 2 --oversubscribe " + mpi_args + " " + TINYFRONT_BINARY +
                    " sweep " + spec + " --out " + out + " --quiet");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    std::map<std::string, int> t;
    for (auto& rec : store_read_runs(out)) t[rec.run_id] = rec.config.train.threads;
    EXPECT_EQ(t.size(), 2u) << r.output;
    return t;
  };
  for (auto& [id, n] : threads_of("OMP_NUM_THREADS=2", "--bind-to none", "omp.h5"))
    EXPECT_EQ(n, 2) << id;
  for (auto& [id, n] :
       threads_of("SLURM_CPUS_PER_TASK=1 OMP_NUM_THREADS=2", "--bind-to none", "slurm.h5"))
    EXPECT_EQ(n, 1) << id;
  for (auto& [id, n] :
       threads_of("unset OMP_NUM_THREADS SLURM_CPUS_PER_TASK;", "--bind-to none", "unbound.h5"))
    EXPECT_EQ(n, affinity_cores()) << id;
  if (affinity_cores() >= 2) {  // two ranks, one core each
    for (auto& [id, n] : threads_of("unset OMP_NUM_THREADS SLURM_CPUS_PER_TASK;",
                                    "--bind-to core --map-by core", "bound.h5")) {
      EXPECT_EQ(n, 1) << id;
    }
  }

  // Same metrics as threads_per_rank = 2 written out.
  const std::string explicit_spec = dir.file("two.toml", auto_sweep("2"));
  const std::string two = dir.file("two.h5");
  CommandResult r =
      run_command(mpiexec(2, "sweep " + explicit_spec + " --out " + two + " --quiet"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::map<std::string, RunRecord> by_id;
  for (auto& rec : store_read_runs(two)) by_id[rec.run_id] = rec;
  for (auto& rec : store_read_runs(dir.file("omp.h5"))) {
    ASSERT_TRUE(by_id.count(rec.run_id)) << rec.run_id;
    EXPECT_EQ(rec.result.test_nll, by_id[rec.run_id].result.test_nll) << rec.run_id;
    EXPECT_EQ(rec.result.steps, by_id[rec.run_id].result.steps) << rec.run_id;
  }
}

// A malformed variable on a rank ends the whole job with one message naming it, not a hang.
TEST(AutoThreads, MalformedVariableOnARankEndsTheJob) {
  TempDir dir("auto_bad");
  const std::string spec = dir.file("auto.toml", auto_sweep("\"auto\""));
  CommandResult r = run_command("OMP_NUM_THREADS=lots timeout 120 " +
                                mpiexec(2, "sweep " + spec + " --out " + dir.file("r.h5")));
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "hung: " << r.output;
  EXPECT_NE(r.output.find("OMP_NUM_THREADS is \"lots\""), std::string::npos) << r.output;
}
