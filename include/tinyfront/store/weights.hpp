// Weights files: trained weights (run/weights.hpp) with the run's config, its vocabulary and each
// parameter tensor by name, in one HDF5 file (format "tinyfront-weights", version 1):
//   attributes: format, version, run_id, config (canonical JSON text)
//   /vocab               the tokens, variable-length strings of bytes, id order (character set
//                        UTF-8 when every token is valid UTF-8, else ASCII: read them as bytes)
//   /params/<name>       float32 [rows, cols] (names from model/model.hpp param_layout)
#pragma once

#include <string>

#include "tinyfront/run/weights.hpp"

namespace tinyfront {

// Written to a temporary name and renamed: a crash never leaves a torn file, and a failed write
// leaves no temporary file.
void write_weights(const std::string& path, const Weights& w);
// Throws tinyfront::Error naming the file if it is not a weights file, or if its vocabulary does
// not match the model (size) or a tensor is missing or has the wrong shape.
Weights read_weights(const std::string& path);
// Whether `path` is a weights file tinyfront wrote (HDF5 with format "tinyfront-weights"): what
// `train --save-weights` may replace.
bool is_weights_file(const std::string& path);

}  // namespace tinyfront
