// Results store crash safety: a writer process is SIGKILLed (or exits without closing) at random
// points, folds included; every record it reported as appended must survive, exactly once.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "test_store_util.hpp"
#include "tinyfront/store/results_file.hpp"

namespace tinyfront {
namespace {

using store_test::make_record;
using store_test::TempDir;

// Each message on the pipe: record index * 2 + phase (0: "running" appended, 1: "done").
void child_writer(const std::string& path, int first, int fold_every, int exit_after, int fd) {
  try {
    StoreOptions opt;
    opt.fold_every_records = fold_every;
    opt.fold_every_seconds = 0;
    ResultsStore s = store_open(path, opt);
    for (int k = 0;; ++k) {
      if (k == exit_after) _exit(0);  // leave without store_close, like a crash
      const int i = first + k;
      RunRecord r = make_record(i, RunStatus::running);
      r.result.curve.clear();
      store_append(s, r);
      int32_t msg = i * 2;
      if (write(fd, &msg, sizeof msg) != sizeof msg) _exit(4);
      r = make_record(i, i % 7 == 3 ? RunStatus::failed : RunStatus::done);
      store_append(s, r);
      msg = i * 2 + 1;
      if (write(fd, &msg, sizeof msg) != sizeof msg) _exit(4);
    }
  } catch (const std::exception& e) {
    fprintf(stderr, "child writer failed: %s\n", e.what());
    _exit(3);
  }
}

TEST(StoreCrash, KilledWriterKeepsEveryReportedRecord) {
  TempDir dir;
  const std::string path = dir.file("results.h5");
  {
    ResultsStore s = store_create(path, "crash test spec");
    store_close(s);
  }
  std::mt19937_64 rng(20240611);
  std::map<int, int> reported;  // record index -> last reported phase
  int next = 0;
  int kills = 0, exits = 0;
  std::map<std::string, int> index_of;  // run id -> record index
  std::set<int> in_flight;              // indices that may have been written but not reported
  std::set<int> last_of_iteration;      // may be one status further than reported
  for (int iter = 0; iter < 16; ++iter) {
    SCOPED_TRACE("iteration " + std::to_string(iter));
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const int fold_every = 1 + int(rng() % 6);  // small: many kills land inside a fold
    const int exit_after = rng() % 4 == 0 ? int(rng() % 30) : -1;
    const int delay_us = int(rng() % 100000);
    const int first = next;
    fflush(nullptr);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      child_writer(path, first, fold_every, exit_after, fds[1]);
      _exit(5);
    }
    close(fds[1]);
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
    kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
      ++kills;
    else {
      ASSERT_TRUE(WIFEXITED(status));
      ASSERT_EQ(WEXITSTATUS(status), 0) << "the child writer failed";
      ++exits;
    }
    int32_t msg;
    int last = first - 1;
    while (read(fds[0], &msg, sizeof msg) == sizeof msg) {
      reported[msg / 2] = msg % 2;
      last = std::max(last, int(msg / 2));
    }
    close(fds[0]);
    next = last + 2;  // skip the index that may have been in flight

    // Every reported record is there, with its reported status or, for the one record in flight
    // at the kill, possibly the next; nothing else; no run twice.
    for (int i = first; i <= last + 1; ++i) index_of[make_record(i).run_id] = i;
    in_flight.insert(last + 1);
    last_of_iteration.insert(last);
    auto runs = store_read_runs(path);
    std::map<std::string, RunStatus> in_file;
    for (auto& r : runs) ASSERT_TRUE(in_file.emplace(r.run_id, r.result.status).second);
    int in_flight_seen = 0;
    for (auto& [id, st] : in_file) {
      auto it = index_of.find(id);
      ASSERT_NE(it, index_of.end()) << "unexpected run " << id;
      if (!reported.count(it->second)) {
        EXPECT_TRUE(in_flight.count(it->second))
            << "record " << it->second << " was never appended";
        EXPECT_EQ(st, RunStatus::running);
        in_flight_seen += it->second == last + 1;
      }
    }
    for (auto& [i, phase] : reported) {
      RunRecord want = make_record(i, i % 7 == 3 ? RunStatus::failed : RunStatus::done);
      auto it = in_file.find(want.run_id);
      ASSERT_NE(it, in_file.end()) << "record " << i << " was reported appended but is lost";
      if (phase == 1)
        EXPECT_EQ(it->second, want.result.status) << "record " << i;
      else if (it->second != RunStatus::running) {
        EXPECT_TRUE(last_of_iteration.count(i)) << "record " << i;
        EXPECT_EQ(it->second, want.result.status);
        in_flight_seen += i == last;
      }
    }
    EXPECT_LE(in_flight_seen, 1);
    if (iter % 4 == 3) {
      StoreInfo info = store_validate(path);
      EXPECT_EQ(info.runs, int64_t(in_file.size()));
    }
  }
  // Both ways of dying happened, and the survivors can be opened and closed cleanly.
  EXPECT_GT(kills, 0);
  ResultsStore s = store_open(path);
  store_close(s);
  EXPECT_GE(store_read_runs(path).size(), reported.size());
  EXPECT_FALSE(std::filesystem::exists(path + ".tinyfront-tmp"));
  std::printf("[ crash    ] %d kills, %d exits, %zu records reported\n", kills, exits,
              reported.size());
}

}  // namespace
}  // namespace tinyfront
