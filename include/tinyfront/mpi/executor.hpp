// How a rank executes a run: the training executor trains it; the simulated one (for
// `tinyfront sweep --simulate`, which measures the scheduler) sleeps for a fraction of the run's
// estimated time. Each rank picks its executor from its own options; the run's message is the
// same either way.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "tinyfront/mpi/protocol.hpp"
#include "tinyfront/run/record.hpp"

namespace tinyfront {

// What a running run may do besides training: send its checkpoints, and ask whether to stop.
struct RunChannel {
  std::function<void(const std::string& state)> send_checkpoint;  // may be empty
  std::function<bool()> should_stop;
};

class RunExecutor {
 public:
  virtual ~RunExecutor() = default;
  // Runs `config` (the message's config, threads resolved); throws if the run fails.
  virtual TrainResult run(const RunConfig& config, const mpi_protocol::RunMessage& message,
                          const RunChannel& channel) = 0;
};

// Trains the run (its corpus loaded once per process and kept), resuming from the message's
// checkpoint if it has one.
std::unique_ptr<RunExecutor> make_training_executor();
// Sleeps `scale` x the message's estimated seconds and reports the run done, without metrics.
std::unique_ptr<RunExecutor> make_simulated_executor(double scale);

// The record of one run executed on this rank: its config from the message ("auto" threads
// resolved here, where it runs), id, rank, host and times. A failure of the run is recorded as
// a failed run; only a fault of the job itself (a malformed thread setting) throws.
RunRecord execute_run(RunExecutor& executor, const mpi_protocol::RunMessage& message, int rank,
                      const RunChannel& channel);

}  // namespace tinyfront
