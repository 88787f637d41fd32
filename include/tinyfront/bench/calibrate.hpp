// A quick measurement of this machine's training throughput, for time estimates before a sweep.
#pragma once

namespace tinyfront {

// Trains a small transformer (2 blocks, d=64, T=64, causal, batch 16) for about `seconds` and
// returns the exact FLOPs per second achieved with `threads` threads.
double measure_training_flops_per_second(int threads, double seconds = 0.5);

}  // namespace tinyfront
