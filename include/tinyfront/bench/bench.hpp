// `tinyfront bench`: how fast this build trains the study's models on this machine, measured
// against the machine's own single-precision GEMM rate in the same process, so that runs on
// different (or differently loaded) machines can be compared by their ratios.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tinyfront/model/config.hpp"

namespace tinyfront {

struct BenchOptions {
  std::vector<int> threads{1, 2};
  bool quick = false;         // a few steps per model, for CI: the figures are only indicative
  double seconds = 1.5;       // timed seconds per model and thread count (full mode)
  double gemm_seconds = 0.3;  // timed seconds per GEMM shape (full mode)
  std::string model_set = "default";  // default, blocks or all (bench_model_set)
  std::vector<std::string> models;    // names to run (empty: the whole set)
};

// One model of the study at the configuration it is benchmarked at.
struct BenchModel {
  std::string name;
  ModelConfig cfg;
  Protocol protocol = Protocol::paper;
  int batch = 64;
};

// linear, mlp, attention, transformer_paper, transformer_causal, transformer_word, and
// transformer_gelu (GELU, pre-LN, FF 512, dropout 0.1: the nanoGPT-style block).
std::vector<BenchModel> bench_models();
// The causal L=3 block from transformer_gelu to the study's (ReLU, post-LN, FF 256, no dropout),
// one setting changed at a time.
std::vector<BenchModel> bench_block_variants();
// "default": bench_models(); "blocks": bench_block_variants(); "all": both.
std::vector<BenchModel> bench_model_set(const std::string& set);

struct GemmRate {
  std::string name;
  int m = 0, k = 0, n = 0;  // [m x k] * [k x n]
  int reps = 0;
  double gflops = 0;  // median over repetitions
};

struct ModelRate {
  std::string name;
  BenchModel model;
  int64_t params = 0;
  int steps = 0;           // timed steps (after warm-up)
  double ms_per_step = 0;  // median
  double ms_per_step_mean = 0;
  double ms_per_step_min = 0;
  double cpu_ms_per_step = 0;    // process CPU time (all threads) per step, mean
  double tokens_per_second = 0;  // window positions per second: batch * T / median step time
  double flops_per_step = 0;     // exact_flops_per_window * batch
  double gflops = 0;             // flops_per_step / median step time
  double fraction_of_peak = 0;   // gflops / the same run's GEMM peak
  double loss = 0;               // last training loss (a sanity check that the step computes)
  // Memory: resident set after warm-up and after the timed steps, and minor page faults during
  // the timed steps (a step that maps fresh memory faults on every step).
  int64_t rss_after_warmup = 0, rss_after = 0;
  double minor_faults_per_step = 0;
  bool memory_stable = true;  // resident set did not grow across the timed steps
};

struct BenchRun {
  int threads = 1;
  std::vector<GemmRate> gemm;
  double gemm_peak_gflops = 0;  // the best of the shapes: the practical ceiling
  std::vector<ModelRate> models;
};

struct BenchReport {
  BenchOptions options;
  std::vector<BenchRun> runs;
  int64_t peak_rss_bytes = 0;  // getrusage ru_maxrss at the end
  bool memory_stable = true;   // every model at every thread count
};

// Runs every measurement in this process. Thread counts are set with omp_set_num_threads and
// Eigen::setNbThreads and left at the last value.
BenchReport run_bench(const BenchOptions& opt, bool progress = false);

nlohmann::ordered_json bench_to_json(const BenchReport& r);
// A fixed-width table of the report, one line per model and thread count.
std::string bench_table(const BenchReport& r);

}  // namespace tinyfront
