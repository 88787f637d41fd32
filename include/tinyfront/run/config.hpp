// A single training run, fully resolved: data + model + training settings. This is what a job
// spec describes, what a sweep grid point expands to, and what a run id hashes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>
#include "tinyfront/util/enum_names.hpp"

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/model/config.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront {

enum class Schedule { constant, cosine };
constexpr auto enum_names(Schedule) {
  return std::to_array<EnumName<Schedule>>(
      {{Schedule::constant, "constant"}, {Schedule::cosine, "cosine"}});
}

struct TrainConfig {
  Protocol protocol = Protocol::paper;
  // Budget. paper: `epochs` x `windows_per_epoch` windows. causal: `tokens` predicted tokens if
  // > 0, otherwise `epochs` passes over the training split.
  int epochs = 4;
  int64_t windows_per_epoch = 50'000;
  int64_t tokens = 0;
  int batch = 64;
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  double weight_decay = 0.0;  // AdamW, decoupled; weight matrices only
  Schedule schedule = Schedule::constant;
  int64_t warmup_steps = 0;
  double min_lr_ratio = 0.1;  // cosine floor as a fraction of lr
  double grad_clip = 0.0;     // global norm; 0 = off
  // Evaluation. paper: windows starting at 0..eval_windows-1 of valid/test. causal: the whole
  // split in non-overlapping windows (eval_windows caps validation windows; 0 = all).
  int64_t eval_windows = 10'000;
  int64_t eval_every = 0;  // steps between validations; 0 = once per epoch
  int patience = 0;        // early stopping after this many evaluations without improvement
  bool restore_best = true;
  uint64_t seed = 0;
  int threads = 1;
  double diverge_loss = 1e3;  // a training loss above this (or NaN/inf) ends the run: diverged
  // How a sweep derived this run's budget: "fixed", "tokens_per_param=20", "iso_flops=1e+12",
  // "scaled_epochs". A label for analysis; like threads, not part of the run's identity.
  std::string budget = "fixed";
};

struct RunConfig {
  DataConfig data;
  ModelConfig model;
  TrainConfig train;
};

// Cross-field checks that need no data (heads divide d_model, rope needs an even head size, ...),
// appended to issues under file: a spec's and a stored weights file's configs are checked alike.
void validate_config(const RunConfig& cfg, const std::string& file, std::vector<SpecIssue>& issues);

}  // namespace tinyfront
