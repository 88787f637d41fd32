#include "tinyfront/bench/calibrate.hpp"

#include <omp.h>

#include <Eigen/Core>
#include <chrono>

#include "tinyfront/model/flops.hpp"
#include "tinyfront/model/model.hpp"
#include "tinyfront/train/step.hpp"

namespace tinyfront {

double measure_training_flops_per_second(int threads, double seconds) {
  omp_set_num_threads(threads);
  Eigen::setNbThreads(threads);
  ModelConfig cfg;
  cfg.arch = Arch::transformer;
  cfg.vocab = 65;
  cfg.context = 64;
  cfg.d_model = 64;
  cfg.layers = 2;
  cfg.heads = 4;
  cfg.ff = 256;
  const int B = 16;
  Model<float> m = model_create<float>(cfg, Protocol::causal, B);
  Rng rng(1);
  model_init(m, rng);
  std::vector<int32_t> in(size_t(B) * cfg.context), tg(in.size());
  for (auto& t : in) t = int32_t(rng.below(65));
  for (auto& t : tg) t = int32_t(rng.below(65));
  std::vector<float> mom(m.params.size(), 0.0f), vel(m.params.size(), 0.0f);
  auto step = [&](int64_t t) { train_step(m, in.data(), tg.data(), B, rng, mom, vel, {}, t); };
  step(1);  // warm-up
  using Clock = std::chrono::steady_clock;
  auto t0 = Clock::now();
  int64_t steps = 0;
  double elapsed = 0;
  while (elapsed < seconds) {
    step(2 + steps++);
    elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  return exact_flops_per_window(cfg, Protocol::causal) * B * double(steps) / elapsed;
}

}  // namespace tinyfront
