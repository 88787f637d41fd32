// `threads_per_rank = "auto"`: how many training threads a rank uses when the sweep leaves it to
// where the rank runs. Resolved by each rank itself (on a cluster the master's node says nothing
// about a worker's), in this order:
//   1. SLURM_CPUS_PER_TASK (Slurm's --cpus-per-task, set in every task of the step),
//   2. OMP_NUM_THREADS (its first entry: "4,2" means 4 at the outer level),
//   3. the cores this process may run on (sched_getaffinity), i.e. what mpirun's --bind-to or
//      srun's binding gave the rank; all cores of the machine when it is not bound.
#pragma once

#include <string>

namespace tinyfront {

// threads_per_rank's value for "auto" in SweepSettings and in a run's train.threads until the
// rank that trains it resolves it.
inline constexpr int kAutoThreads = 0;

struct AutoThreads {
  int threads = 1;
  std::string source;  // "SLURM_CPUS_PER_TASK=4", "OMP_NUM_THREADS=2", "affinity: 2 cores"
};

// The rule, from its inputs (null: variable unset). A set but malformed variable is an error
// (tinyfront::Error naming it and its value), not silently skipped: it would hide a job script
// mistake behind a different thread count. Counts above 1024 are capped there.
AutoThreads auto_threads_from(const char* slurm_cpus_per_task, const char* omp_num_threads,
                              int affinity_cores);

// The cores this process may run on (at least 1).
int affinity_cores();

// The rule applied to this process's environment and affinity.
AutoThreads auto_threads();

}  // namespace tinyfront
