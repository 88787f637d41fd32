// The master/worker message protocol, in one place.
//
// Rank 0 is the master; every other rank is a worker. Messages are Boost.MPI point-to-point
// sends of the types below (Boost.Serialization):
//
//   worker -> master  kReady       int (unused)       first message: "give me work"
//   master -> worker  kRun         RunMessage         a run to do, possibly with a checkpoint
//   worker -> master  kCheckpoint  CheckpointMessage  a running run's state (periodic, on stop)
//   worker -> master  kResult      std::string        record_to_json(RunRecord) text: the run
//                                                     ended (any status); the worker then waits
//                                                     for the next kRun or kStop
//   master -> worker  kStop        int (unused)       no more work: the worker returns
//
// A worker sends nothing else, so the master needs only a probe on (any source, any tag) and
// one receive per message; the master never blocks on a busy worker. A worker that receives
// SIGTERM/SIGUSR1 stops its run at the next step, checkpoints it (kCheckpoint), reports it as
// preempted (kResult) and then gets kStop.
#pragma once

#include <string>

namespace tinyfront::mpi_protocol {

enum Tag : int {
  kReady = 1,
  kRun = 2,
  kResult = 3,
  kCheckpoint = 4,
  kStop = 5,
};

struct RunMessage {
  std::string config_json;        // config_to_json(RunConfig)
  std::string base_dir;           // where relative data paths are resolved
  double estimated_seconds = 0;   // the master's estimate (a simulated run sleeps a fraction)
  std::string checkpoint;         // serialize_state(TrainState), empty for a fresh start
  int64_t checkpoint_steps = 0;   // checkpoint every N steps (0: not by steps)
  double checkpoint_seconds = 0;  // ... and every M seconds (0: not by time)

  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& config_json& base_dir& estimated_seconds& checkpoint& checkpoint_steps& checkpoint_seconds;
  }
};

struct CheckpointMessage {
  std::string run_id;
  std::string state;  // serialize_state(TrainState)

  template <class Archive>
  void serialize(Archive& ar, unsigned) {
    ar& run_id& state;
  }
};

}  // namespace tinyfront::mpi_protocol
