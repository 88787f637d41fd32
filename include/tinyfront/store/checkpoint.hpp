// Checkpoint files: one small HDF5 file per running run, in a directory beside the results file
// ("results.h5.ckpt/<run id>.h5"), so checkpoints never bloat or contend with the results file.
// Each is written to a temporary name, fsynced, then renamed over the old one: a crash leaves the
// previous checkpoint or the new one, never a torn file.
//
// Layout (format "tinyfront-checkpoint", version 1):
//   /params, /adam_m, /adam_v, /best_params   float32 [P] (best_params may be empty)
//   /rng                                      uint64 [2, 4]: data sampling, dropout (xoshiro256**)
//   /curve                                    float64 [n, 6]: step, tokens, train_loss,
//                                             val_loss, lr, seconds
//   attributes: format, version, run_id, step, windows_done (the data position),
//               evals_since_best, best_step, loss_count (int64); best_val, loss_sum,
//               train_seconds (stored as float64 bit patterns in int64 to stay exact)
#pragma once

#include <optional>
#include <string>

#include "tinyfront/run/train_state.hpp"

namespace tinyfront {

void write_checkpoint_file(const std::string& path, const std::string& run_id,
                           const TrainState& state);
// Throws tinyfront::Error naming the path if the file is not a readable checkpoint.
TrainState read_checkpoint_file(const std::string& path, std::string* run_id = nullptr);

// The checkpoint directory of a results file. Takes and returns serialized states
// (run/state_io.hpp), the form in which they travel over MPI.
struct CheckpointDir {
  std::string dir;
  explicit CheckpointDir(std::string directory) : dir(std::move(directory)) {}
  std::string path_of(const std::string& run_id) const { return dir + "/" + run_id + ".h5"; }
  void write(const std::string& run_id, const std::string& state_bytes) const;
  std::optional<std::string> read(const std::string& run_id) const;  // nullopt if none
  void remove(const std::string& run_id) const;                      // no-op if none
};

}  // namespace tinyfront
