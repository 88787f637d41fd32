// Waiting on MPI without spinning, and the clocks the scheduler measures itself with (private to
// the mpi module).
#pragma once

#include <boost/mpi/communicator.hpp>
#include <chrono>

namespace tinyfront {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t);
double thread_cpu_seconds();

// Waits for a message without spinning: MPI's blocking probe busy-polls, which on an
// oversubscribed node (the --simulate benchmark runs 1,024 ranks on 2 cores) would starve the
// master of CPU. Sleeps grow from 50 us to 10 ms while nothing arrives: a worker idles only
// between runs, which last seconds to hours.
boost::mpi::status wait_for_message(boost::mpi::communicator& world, int source);

// A barrier that sleeps instead of spinning (same reason as above).
void quiet_barrier(boost::mpi::communicator& world);

}  // namespace tinyfront
