#include "tinyfront/util/auto_threads.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <string_view>

#include "tinyfront/util/error.hpp"

namespace tinyfront {

namespace {

constexpr int kMaxThreads = 1024;  // the spec's own limit for threads_per_rank

// A positive whole number, the whole text ("4", not "4 " or "4x"); 0 when it is not one.
long positive_whole(std::string_view s) {
  long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 1) return 0;
  return v;
}

}  // namespace

AutoThreads auto_threads_from(const char* slurm_cpus_per_task, const char* omp_num_threads,
                              int affinity) {
  AutoThreads r;
  if (slurm_cpus_per_task) {
    long v = positive_whole(slurm_cpus_per_task);
    if (!v)
      throw Error(std::string("threads_per_rank = \"auto\": SLURM_CPUS_PER_TASK is \"") +
                  slurm_cpus_per_task + "\", not a positive whole number");
    r.threads = int(std::min<long>(v, kMaxThreads));
    r.source = "SLURM_CPUS_PER_TASK=" + std::string(slurm_cpus_per_task);
    return r;
  }
  if (omp_num_threads) {
    std::string_view s(omp_num_threads);
    long v = positive_whole(s.substr(0, s.find(',')));
    if (!v)
      throw Error(std::string("threads_per_rank = \"auto\": OMP_NUM_THREADS is \"") +
                  omp_num_threads + "\", not a positive whole number (or a list of them)");
    r.threads = int(std::min<long>(v, kMaxThreads));
    r.source = "OMP_NUM_THREADS=" + std::string(omp_num_threads);
    return r;
  }
  r.threads = std::clamp(affinity, 1, kMaxThreads);
  r.source = "affinity: " + std::to_string(r.threads) + (r.threads == 1 ? " core" : " cores");
  return r;
}

int affinity_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return 1;
  return std::max(1, CPU_COUNT(&set));
}

AutoThreads auto_threads() {
  return auto_threads_from(std::getenv("SLURM_CPUS_PER_TASK"), std::getenv("OMP_NUM_THREADS"),
                           affinity_cores());
}

}  // namespace tinyfront
