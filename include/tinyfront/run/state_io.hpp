// A TrainState as bytes, for MPI messages: "TFCK", a format version, then the fields in order,
// in this machine's byte order (checkpoints do not move between architectures).
#pragma once

#include <string>

#include "tinyfront/run/train_state.hpp"

namespace tinyfront {

std::string serialize_state(const TrainState& s);
// Throws tinyfront::Error for bytes that are not a checkpoint of this format version.
TrainState deserialize_state(const std::string& bytes);

}  // namespace tinyfront
