// A discrete-event model of the sweep master: where does one master stop keeping its workers busy?
//
// No MPI processes: W workers each run for a run length drawn around `run_seconds`, then send a
// result; the master, a single server, handles the messages in arrival order. For each result it
// spends `dispatch_seconds` (receive, pick and send the next run) and makes the result durable in
// the journal: one fsync per result (`append_seconds`), or, with group commit, one fsync for every
// result that is waiting when it writes (`append_seconds` + `record_seconds` per extra result).
// A worker starts its next run only when the master has dispatched it, so a busy master idles
// workers. Running runs also send a checkpoint every `checkpoint_every_seconds`, which costs the
// master `checkpoint_seconds` to receive and store.
//
// The inputs are measured on a real master (docs/scheduling.md); the output is the fraction of
// worker time spent training (efficiency), the master's utilisation and the results it stores
// per second.
#pragma once

#include <cstdint>

namespace tinyfront {

struct MasterModelInputs {
  int64_t workers = 100;
  double run_seconds = 60;         // mean run length
  double run_spread = 0.2;         // run lengths are lognormal with this sigma (0 = all equal)
  double dispatch_seconds = 1e-4;  // master time per result, journal aside
  double append_seconds = 2.4e-4;  // one journal append + fsync
  double record_seconds = 5e-6;    // each further result in a group commit
  bool group_commit = true;
  double checkpoint_every_seconds = 0;  // 0: no checkpoints
  double checkpoint_seconds = 0;        // master time per checkpoint received
  // Simulated time: this many run lengths, and at least ten times the first dispatch round.
  double horizon_runs = 20;
  uint64_t seed = 1;
};

struct MasterModelResult {
  double simulated_seconds = 0;
  int64_t results = 0;            // results stored
  double results_per_second = 0;  // stored by the master
  double master_utilisation = 0;  // busy fraction of the master
  double efficiency = 0;          // worker time training / (workers x time)
  double mean_wait_seconds = 0;   // a finished worker's wait for its next run
  double mean_group_size = 0;     // results per fsync
};

MasterModelResult simulate_master(const MasterModelInputs& in);

}  // namespace tinyfront
