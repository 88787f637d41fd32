#include "transport.hpp"

#include <time.h>

#include <algorithm>
#include <thread>

namespace tinyfront {

namespace bmpi = boost::mpi;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
}

bmpi::status wait_for_message(bmpi::communicator& world, int source) {
  auto nap = std::chrono::microseconds(50);
  while (true) {
    if (boost::optional<bmpi::status> st = world.iprobe(source, bmpi::any_tag)) return *st;
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(10000));
  }
}

void quiet_barrier(bmpi::communicator& world) {
  MPI_Request req;
  MPI_Ibarrier(MPI_Comm(world), &req);
  int done = 0;
  auto nap = std::chrono::microseconds(50);
  while (MPI_Test(&req, &done, MPI_STATUS_IGNORE), !done) {
    std::this_thread::sleep_for(nap);
    nap = std::min(nap * 2, std::chrono::microseconds(20000));
  }
}

}  // namespace tinyfront
