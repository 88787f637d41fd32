// Text generation from trained weights: what a point on the frontier has learned.
#pragma once

#include <cstdint>
#include <string>

#include "tinyfront/run/weights.hpp"

namespace tinyfront {

struct SampleOptions {
  std::string prompt;
  int tokens = 300;
  double temperature = 1.0;  // 0: greedy
  int top_k = 0;             // 0: the whole vocabulary
  uint64_t seed = 0;
};

// Generates `tokens` tokens after the prompt and returns the prompt plus the generated text.
// Windows shorter than the context (at the start) are left-padded with the prompt's first token.
// Throws tinyfront::Error if the prompt holds a token the vocabulary lacks (words: <unk> is used
// when the vocabulary has it).
std::string sample_text(const Weights& w, const SampleOptions& opt);

}  // namespace tinyfront
