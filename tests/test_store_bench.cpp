// Results store measurements (not assertions): append latency, fold cost, resume scan of a large
// file, bytes per run. Opt-in, as building the 100,000-run file takes a while:
//   TINYFRONT_STORE_BENCH=1 [TINYFRONT_STORE_BENCH_RUNS=100000] [TINYFRONT_STORE_BENCH_DIR=/tmp]
//     tinyfront_tests --gtest_filter=StoreBench*
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>

#include "test_store_util.hpp"
#include "tinyfront/store/results_file.hpp"

namespace tinyfront {
namespace {

using Clock = std::chrono::steady_clock;
using store_test::make_record;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

long long file_size(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? (long long)st.st_size : -1;
}

struct Stats {
  double mean, p50, p99, max;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = std::accumulate(v.begin(), v.end(), 0.0);
  return {sum / double(v.size()), v[v.size() / 2], v[size_t(double(v.size()) * 0.99)], v.back()};
}

// A realistic record: a curve of 25 evaluation points.
RunRecord bench_record(int i) {
  RunRecord r = make_record(i);
  r.result.curve.clear();
  for (int k = 0; k < 25; ++k)
    r.result.curve.push_back({k * 100, k * 12800, 2.0 - 0.01 * k, 2.1 - 0.01 * k, 1e-3, 0.5 * k});
  return r;
}

bool enabled() {
  const char* e = std::getenv("TINYFRONT_STORE_BENCH");
  return e && std::string(e) == "1";
}

std::string bench_dir() {
  const char* d = std::getenv("TINYFRONT_STORE_BENCH_DIR");
  return d ? d : "/tmp";
}

TEST(StoreBench, AppendLatency) {
  if (!enabled()) GTEST_SKIP() << "set TINYFRONT_STORE_BENCH=1 to measure the results store";
  const std::string path = bench_dir() + "/tinyfront-bench-append.h5";
  std::remove(path.c_str());
  std::remove((path + ".journal").c_str());
  const int n = 3000;
  for (int fold_every : {0, 1000}) {
    std::remove(path.c_str());
    std::remove((path + ".journal").c_str());
    StoreOptions opt;
    opt.fold_every_records = fold_every;
    opt.fold_every_seconds = 0;
    ResultsStore s = store_create(path, "bench", opt);
    std::vector<RunRecord> recs;
    for (int i = 0; i < n; ++i) recs.push_back(bench_record(i));
    std::vector<double> t;
    for (auto& r : recs) {
      auto t0 = Clock::now();
      store_append(s, r);
      t.push_back(ms_since(t0));
    }
    auto t0 = Clock::now();
    store_close(s);
    double close_ms = ms_since(t0);
    Stats st = stats(t);
    std::printf(
        "[ bench    ] append (fold every %d): mean %.3f ms, p50 %.3f ms, p99 %.3f ms, "
        "max %.1f ms; close (fold of %d) %.1f ms; file %.0f bytes/run\n",
        fold_every, st.mean, st.p50, st.p99, st.max, fold_every ? n % fold_every : n, close_ms,
        double(file_size(path)) / n);
  }
  std::remove(path.c_str());
  std::remove((path + ".journal").c_str());
}

// Group commit: results stored per second when groups of G results share one fsync (the master
// stores the results that arrived together as one group). Every result is durable when its
// group's store_append_all returns.
TEST(StoreBench, GroupCommitThroughput) {
  if (!enabled()) GTEST_SKIP() << "set TINYFRONT_STORE_BENCH=1 to measure the results store";
  const std::string path = bench_dir() + "/tinyfront-bench-group.h5";
  const int n = 20000;
  std::vector<RunRecord> recs;
  for (int i = 0; i < n; ++i) recs.push_back(bench_record(i));
  for (int group : {1, 8, 64, 512}) {
    std::remove(path.c_str());
    std::remove((path + ".journal").c_str());
    StoreOptions opt;
    opt.fold_every_records = 0;  // folds are timed apart (AppendLatency)
    opt.fold_every_seconds = 0;
    ResultsStore s = store_create(path, "bench", opt);
    const int count = group == 1 ? 2000 : n;
    auto t0 = Clock::now();
    for (int i = 0; i < count; i += group) {
      std::vector<RunRecord> g(recs.begin() + i, recs.begin() + std::min(count, i + group));
      store_append_all(s, g);
    }
    const double ms = ms_since(t0);
    store_close(s);
    std::printf("[ bench    ] group commit of %d: %.0f results/s durable (%d results, %.1f ms)\n",
                group, 1e3 * count / ms, count, ms);
  }
  std::remove(path.c_str());
  std::remove((path + ".journal").c_str());
}

TEST(StoreBench, ResumeScanOfLargeFile) {
  if (!enabled()) GTEST_SKIP() << "set TINYFRONT_STORE_BENCH=1 to measure the results store";
  int n = 100000;
  if (const char* e = std::getenv("TINYFRONT_STORE_BENCH_RUNS")) n = std::atoi(e);
  const std::string path = bench_dir() + "/tinyfront-bench-large.h5";
  std::remove(path.c_str());
  std::remove((path + ".journal").c_str());

  auto t0 = Clock::now();
  StoreOptions opt;
  opt.fold_every_records = 10000;
  opt.fold_every_seconds = 0;
  ResultsStore s = store_create(path, "bench", opt);
  std::vector<double> folds;
  for (int i = 0; i < n; ++i) {
    RunRecord r = bench_record(i);
    auto a = Clock::now();
    store_append(s, r);
    if ((i + 1) % opt.fold_every_records == 0) folds.push_back(ms_since(a));
  }
  store_close(s);
  std::printf(
      "[ bench    ] built %d runs in %.1f s; folds of 10000 records: first %.0f ms, "
      "last %.0f ms\n",
      n, ms_since(t0) / 1000, folds.empty() ? 0.0 : folds.front(),
      folds.empty() ? 0.0 : folds.back());
  const long long bytes = file_size(path);
  std::printf("[ bench    ] file: %.1f MB, %.0f bytes/run (curves of 25 points included)\n",
              double(bytes) / 1e6, double(bytes) / n);

  // Resume: open for appending (validation + run id/status index), after a crash-like
  // exit with 500 records in the journal.
  {
    StoreOptions o;
    o.fold_every_records = 0;
    ResultsStore w = store_open(path, o);
    for (int i = n; i < n + 500; ++i) store_append(w, bench_record(i));
  }
  t0 = Clock::now();
  ResultsStore w = store_open(path);
  double open_ms = ms_since(t0);
  t0 = Clock::now();
  auto scan = store_scan(path);
  double scan_ms = ms_since(t0);
  t0 = Clock::now();
  auto runs = store_read_runs(path);
  double read_ms = ms_since(t0);
  EXPECT_EQ(scan.size(), size_t(n + 500));
  EXPECT_EQ(runs.size(), size_t(n + 500));
  std::vector<double> t;
  for (int i = n + 500; i < n + 700; ++i) {
    auto a = Clock::now();
    store_append(w, bench_record(i));
    t.push_back(ms_since(a));
  }
  t0 = Clock::now();
  store_flush(w);
  double fold_ms = ms_since(t0);
  store_close(w);
  Stats st = stats(t);
  std::printf(
      "[ bench    ] %d runs + 500 in the journal: store_open (resume) %.0f ms, "
      "store_scan %.0f ms, store_read_runs %.0f ms\n",
      n, open_ms, scan_ms, read_ms);
  std::printf(
      "[ bench    ] on that file: append mean %.3f ms, p99 %.3f ms; fold of 700 records "
      "%.0f ms\n",
      st.mean, st.p99, fold_ms);
  std::remove(path.c_str());
  std::remove((path + ".journal").c_str());
}

}  // namespace
}  // namespace tinyfront
