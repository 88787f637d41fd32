#include "tinyfront/mpi/scheduler.hpp"

#include "roles.hpp"
#include "world_impl.hpp"

namespace tinyfront {

SweepOutcome run_sweep(const MpiWorld& mpi_world, const SweepSpec& spec,
                       const std::vector<RunConfig>& runs, const SchedulerOptions& opt,
                       const SchedulerCallbacks& cb) {
  boost::mpi::communicator& world = mpi_world.impl().comm;
  // How this rank executes runs: every rank parses the same command line, so all agree.
  std::unique_ptr<RunExecutor> executor =
      opt.simulate ? make_simulated_executor(opt.simulate_scale) : make_training_executor();
  if (world.rank() != 0) {
    run_worker(world, *executor, cb);
    return {};
  }
  return run_master(world, *executor, spec, runs, opt, cb);
}

}  // namespace tinyfront
