// A worker rank: asks rank 0 for work, executes each run it gets, sends back its checkpoints and
// its result, and returns on kStop (mpi/protocol.hpp).
#include <boost/serialization/string.hpp>
#include <nlohmann/json.hpp>

#include "roles.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/run/record_json.hpp"
#include "transport.hpp"

namespace tinyfront {

using namespace mpi_protocol;
namespace bmpi = boost::mpi;

void run_worker(bmpi::communicator& world, RunExecutor& executor, const SchedulerCallbacks& cb) {
  quiet_barrier(world);
  world.send(0, kReady, 0);
  while (true) {
    bmpi::status st = wait_for_message(world, 0);
    if (st.tag() == kStop) {
      int dummy;
      world.recv(0, kStop, dummy);
      return;
    }
    RunMessage msg;
    world.recv(0, kRun, msg);
    // The master's kStop may come while the run trains (a stop signal on rank 0).
    bool stop_seen = false;
    RunChannel channel;
    channel.should_stop = [&]() {
      if (!stop_seen && world.iprobe(0, kStop)) stop_seen = true;
      return stop_seen || stop_requested();
    };
    const std::string id = run_id(config_from_json(nlohmann::json::parse(msg.config_json)));
    channel.send_checkpoint = [&](const std::string& state) {
      if (cb.worker_checkpoint) return cb.worker_checkpoint(id, state);
      world.send(0, kCheckpoint, CheckpointMessage{id, state});
    };
    RunRecord rec = execute_run(executor, msg, world.rank(), channel);
    world.send(0, kResult, record_to_json(rec).dump());
  }
}

}  // namespace tinyfront
