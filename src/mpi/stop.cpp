// Stop signals, and the end of the whole job after a fatal error.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tinyfront/mpi/scheduler.hpp"
#include "tinyfront/util/system.hpp"
#include "world_impl.hpp"

namespace tinyfront {

namespace {
volatile std::sig_atomic_t g_stop = 0;
extern "C" void on_stop_signal(int) {
  g_stop = 1;
}
}  // namespace

void install_stop_handlers() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);  // Ctrl-C: checkpoint and stop, like SIGTERM
  sigaction(SIGUSR1, &sa, nullptr);
}

bool stop_requested() {
  return g_stop != 0;
}

void abort_job(const MpiWorld& mpi_world, const std::string& message, int exit_code) {
  boost::mpi::communicator& world = mpi_world.impl().comm;
  std::fprintf(stderr, "error: rank %d of %d (%s): %s\n", world.rank(), world.size(),
               host_name().c_str(), message.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  MPI_Abort(world, exit_code);
  std::_Exit(exit_code);  // MPI_Abort does not return; in case an implementation does
}

}  // namespace tinyfront
