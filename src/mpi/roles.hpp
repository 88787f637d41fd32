// The two sides of run_sweep (private to the mpi module): rank 0's master, and the workers.
#pragma once

#include <boost/mpi/communicator.hpp>

#include "tinyfront/mpi/executor.hpp"
#include "tinyfront/mpi/scheduler.hpp"

namespace tinyfront {

// Pulls runs from rank 0 and executes them until told to stop.
void run_worker(boost::mpi::communicator& world, RunExecutor& executor,
                const SchedulerCallbacks& callbacks);

// Hands `runs` out to the workers (or, alone, executes them itself) and stores their results.
SweepOutcome run_master(boost::mpi::communicator& world, RunExecutor& executor,
                        const SweepSpec& spec, const std::vector<RunConfig>& runs,
                        const SchedulerOptions& options, const SchedulerCallbacks& callbacks);

}  // namespace tinyfront
