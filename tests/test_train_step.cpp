// train_step (train/step.hpp), the one training step of the trainer, the benchmark and the
// calibration: the same numbers as its parts called by hand, and a diverged step changes nothing.
#include <gtest/gtest.h>

#include <cmath>

#include "tinyfront/model/model.hpp"
#include "tinyfront/train/step.hpp"

using namespace tinyfront;

namespace {

struct Fixture {
  Model<float> m;
  std::vector<int32_t> in, tg;
  std::vector<float> mom, vel;
  Rng rng{7};
};

Fixture make(int B) {
  ModelConfig cfg;
  cfg.arch = Arch::transformer;
  cfg.vocab = 13;
  cfg.context = 8;
  cfg.d_model = 16;
  cfg.heads = 2;
  cfg.layers = 2;
  cfg.ff = 24;
  cfg.dropout = 0.1;
  Fixture f;
  f.m = model_create<float>(cfg, Protocol::causal, B);
  Rng init(3);
  model_init(f.m, init);
  f.in.resize(size_t(B) * cfg.context);
  f.tg.resize(f.in.size());
  for (auto& t : f.in) t = int32_t(init.below(13));
  for (auto& t : f.tg) t = int32_t(init.below(13));
  f.mom.assign(f.m.params.size(), 0.0f);
  f.vel.assign(f.m.params.size(), 0.0f);
  return f;
}

}  // namespace

TEST(TrainStep, SameNumbersAsZeroForwardBackwardClipAdam) {
  const int B = 4;
  Fixture a = make(B), b = make(B);
  StepConfig cfg;
  cfg.adam.lr = 3e-3;
  cfg.adam.weight_decay = 0.1;
  cfg.grad_clip = 0.05;  // small enough to clip: the clipping path is compared too
  bool clipped = false;
  for (int64_t t = 1; t <= 3; ++t) {
    const StepResult r = train_step(a.m, a.in.data(), a.tg.data(), B, a.rng, a.mom, a.vel, cfg, t);
    // by hand, the order the trainer used before train_step
    model_zero_grad(b.m);
    const float loss = model_forward<float>(b.m, b.in.data(), b.tg.data(), B, true, &b.rng);
    model_backward(b.m);
    const double norm = grad_norm(b.m.grads);
    if (norm > cfg.grad_clip) {
      clipped = true;
      const float s = float(cfg.grad_clip / (norm + 1e-6));
      for (float& g : b.m.grads) g *= s;
    }
    adam_update(b.m.params, b.m.grads, b.mom, b.vel, b.m.tensors, cfg.adam, t);
    EXPECT_FALSE(r.diverged);
    EXPECT_EQ(r.loss, loss) << "step " << t;
    ASSERT_EQ(a.m.params, b.m.params) << "step " << t;
    ASSERT_EQ(a.mom, b.mom);
    ASSERT_EQ(a.vel, b.vel);
  }
  EXPECT_TRUE(clipped);
}

TEST(TrainStep, DivergedStepLeavesParametersAndMomentsAlone) {
  const int B = 2;
  Fixture f = make(B);
  const std::vector<float> params = f.m.params;
  StepConfig cfg;
  cfg.diverge_loss = 0.5;  // below the loss of an untrained model (about ln 13)
  const StepResult r = train_step(f.m, f.in.data(), f.tg.data(), B, f.rng, f.mom, f.vel, cfg, 1);
  EXPECT_TRUE(r.diverged);
  EXPECT_GT(r.loss, 0.5f);
  EXPECT_TRUE(std::isfinite(r.loss));
  EXPECT_EQ(f.m.params, params);
  EXPECT_EQ(f.mom, std::vector<float>(params.size(), 0.0f));
  EXPECT_EQ(f.vel, std::vector<float>(params.size(), 0.0f));
}
