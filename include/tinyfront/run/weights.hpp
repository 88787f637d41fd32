// Trained weights with everything needed to use them: the run's config, its vocabulary and the
// flat parameter buffer. Written and read by store/weights.hpp, used by train/sample.hpp.
#pragma once

#include <vector>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/run/config.hpp"

namespace tinyfront {

struct Weights {
  RunConfig config;  // config.model.vocab is set
  Vocabulary vocab;
  std::vector<float> params;  // the flat buffer, param_layout order
};

}  // namespace tinyfront
