// Training on real Tiny Shakespeare: curves go down, runs are reproducible, resume is exact.
#include <gtest/gtest.h>

#include <cmath>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/model/model.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/train/trainer.hpp"

using namespace tinyfront;

namespace tinyfront {
// Readable parameter names in test listings (ctest shows them).
void PrintTo(Arch a, std::ostream* os) {
  *os << to_string(a);
}
void PrintTo(Protocol p, std::ostream* os) {
  *os << to_string(p);
}
}  // namespace tinyfront

namespace {

const Corpus& shakespeare() {
  static Corpus c = [] {
    DataConfig d;
    d.path = "data/tinyshakespeare.txt";
    return load_corpus(d, TINYFRONT_SOURCE_DIR);
  }();
  return c;
}

RunConfig small_run(Arch arch) {
  RunConfig c;
  c.model.arch = arch;
  c.model.context = 16;
  c.model.d_model = 32;
  c.model.hidden = {64};
  c.model.layers = 2;
  c.model.heads = 4;
  c.model.ff = 64;
  c.train.protocol = Protocol::paper;
  c.train.epochs = 1;
  c.train.windows_per_epoch = 6400;
  c.train.batch = 32;
  c.train.lr = 3e-3;
  c.train.eval_windows = 2000;
  c.train.seed = 7;
  c.train.threads = 2;
  return c;
}

}  // namespace

TEST(Corpus, TinyShakespeareCharacters) {
  const Corpus& c = shakespeare();
  EXPECT_EQ(c.vocab.size(), 65);
  EXPECT_EQ(c.train.size() + c.valid.size() + c.test.size(), 1'115'394u);
  double h = unigram_entropy(c.train, c.vocab.size());
  EXPECT_GT(h, 3.0);
  EXPECT_LT(h, 3.6);
}

TEST(Train, LinearBeatsUnigramByHalfANat) {
  const Corpus& c = shakespeare();
  RunConfig cfg = small_run(Arch::linear);
  cfg.train.epochs = 2;
  cfg.train.windows_per_epoch = 20000;
  cfg.train.batch = 64;
  TrainResult r = train_run(cfg, c);
  ASSERT_EQ(r.status, RunStatus::done) << r.message;
  const double unigram = unigram_entropy(c.train, c.vocab.size());
  EXPECT_LT(r.test_nll, unigram - 0.5) << "unigram entropy " << unigram;
  EXPECT_EQ(r.params, count_params([&] {
              ModelConfig m = cfg.model;
              m.vocab = 65;
              return m;
            }()));
  EXPECT_DOUBLE_EQ(r.flops_study, 2.0 * r.params * r.train_tokens);
  EXPECT_EQ(r.train_tokens, 40000LL * 16);
}

class EveryArchitectureLearns : public ::testing::TestWithParam<std::tuple<Arch, Protocol>> {};

TEST_P(EveryArchitectureLearns, ValidationBelowUnigram) {
  auto [arch, protocol] = GetParam();
  const Corpus& c = shakespeare();
  RunConfig cfg = small_run(arch);
  cfg.train.protocol = protocol;
  if (protocol == Protocol::causal) cfg.train.tokens = 6400 * 16;
  TrainResult r = train_run(cfg, c);
  ASSERT_EQ(r.status, RunStatus::done) << r.message;
  const double unigram = unigram_entropy(c.train, c.vocab.size());
  EXPECT_LT(r.best_val_nll, unigram) << to_string(arch) << " " << to_string(protocol);
  ASSERT_GE(r.curve.size(), 1u);
  EXPECT_TRUE(std::isfinite(r.test_nll));
}

INSTANTIATE_TEST_SUITE_P(Ladder, EveryArchitectureLearns,
                         ::testing::Values(std::make_tuple(Arch::linear, Protocol::paper),
                                           std::make_tuple(Arch::mlp, Protocol::paper),
                                           std::make_tuple(Arch::attention, Protocol::paper),
                                           std::make_tuple(Arch::transformer, Protocol::paper),
                                           std::make_tuple(Arch::transformer, Protocol::causal)),
                         [](const auto& info) {
                           return std::string(to_string(std::get<0>(info.param))) + "_" +
                                  to_string(std::get<1>(info.param));
                         });

TEST(Train, RopeAndPreNormLearnUnderCausal) {
  const Corpus& c = shakespeare();
  RunConfig cfg = small_run(Arch::transformer);
  cfg.train.protocol = Protocol::causal;
  cfg.train.tokens = 6400 * 16;
  cfg.model.positions = Positions::rope;
  cfg.model.norm = Norm::pre;
  cfg.model.activation = Activation::gelu;
  TrainResult r = train_run(cfg, c);
  ASSERT_EQ(r.status, RunStatus::done) << r.message;
  EXPECT_LT(r.best_val_nll, unigram_entropy(c.train, c.vocab.size()));
}

TEST(Train, SameSeedSameThreadsBitIdentical) {
  const Corpus& c = shakespeare();
  RunConfig cfg = small_run(Arch::transformer);
  cfg.train.windows_per_epoch = 1600;
  cfg.train.eval_every = 10;
  cfg.model.dropout = 0.1;
  TrainResult a = train_run(cfg, c), b = train_run(cfg, c);
  ASSERT_EQ(a.curve.size(), b.curve.size());
  for (size_t i = 0; i < a.curve.size(); ++i) {
    EXPECT_EQ(a.curve[i].train_loss, b.curve[i].train_loss) << i;
    EXPECT_EQ(a.curve[i].val_loss, b.curve[i].val_loss) << i;
  }
  EXPECT_EQ(a.test_nll, b.test_nll);
  cfg.train.seed += 1;
  TrainResult d = train_run(cfg, c);
  EXPECT_NE(a.test_nll, d.test_nll);
}

TEST(Train, ResumeFromCheckpointIsBitIdentical) {
  const Corpus& c = shakespeare();
  RunConfig cfg = small_run(Arch::transformer);
  cfg.train.windows_per_epoch = 1600;
  cfg.train.epochs = 2;
  cfg.model.dropout = 0.1;
  TrainResult whole = train_run(cfg, c);

  TrainState saved;
  int polls = 0;
  TrainHooks stop_early;
  stop_early.should_stop = [&] { return ++polls == 37; };  // mid-epoch
  stop_early.on_checkpoint = [&](const TrainState& s) { saved = s; };
  TrainResult first = train_run(cfg, c, stop_early);
  ASSERT_EQ(first.status, RunStatus::preempted);
  ASSERT_EQ(saved.step, 37);
  TrainResult resumed = train_run(cfg, c, {}, &saved);
  ASSERT_EQ(resumed.status, RunStatus::done);
  EXPECT_EQ(resumed.test_nll, whole.test_nll);
  EXPECT_EQ(resumed.best_val_nll, whole.best_val_nll);
  ASSERT_EQ(resumed.curve.size(), whole.curve.size());
  for (size_t i = 0; i < whole.curve.size(); ++i)
    EXPECT_EQ(resumed.curve[i].val_loss, whole.curve[i].val_loss);
}

TEST(Train, HugeLearningRateDiverges) {
  const Corpus& c = shakespeare();
  RunConfig cfg = small_run(Arch::mlp);
  cfg.train.lr = 1e4;
  cfg.train.diverge_loss = 50;
  TrainResult r = train_run(cfg, c);
  EXPECT_EQ(r.status, RunStatus::diverged);
  EXPECT_FALSE(r.message.empty());
  EXPECT_TRUE(std::isnan(r.test_nll));
}

TEST(Train, ContextLongerThanSplitIsAClearError) {
  DataConfig d;
  d.path = "data/tinyshakespeare.txt";
  d.split = {0.998, 0.001, 0.001};
  Corpus c = load_corpus(d, TINYFRONT_SOURCE_DIR);
  RunConfig cfg = small_run(Arch::linear);
  cfg.model.context = 4096;
  try {
    train_run(cfg, c);
    FAIL() << "expected an error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("model.context"), std::string::npos) << e.what();
  }
}

// Causal epochs whose windows do not fill whole batches: the budget has exactly the steps the
// windows fill (the step count used to be epochs x steps per epoch, which ran past the last window
// with negative batch sizes and corrupted memory at the end of a 6-epoch PTB run).
TEST(Train, CausalEpochBudgetEndsAtTheLastWindow) {
  RunConfig cfg = small_run(Arch::transformer);
  cfg.train.protocol = Protocol::causal;
  cfg.train.tokens = 0;
  for (int64_t n_train : {48, 100, 887521, 2088628})
    for (int epochs : {1, 2, 3, 6})
      for (int batch : {1, 4, 32}) {
        cfg.train.epochs = epochs;
        cfg.train.batch = batch;
        const Budget b = training_budget(cfg, n_train);
        const int64_t epoch_windows = (n_train - cfg.model.context) / cfg.model.context;
        EXPECT_EQ(b.windows, epochs * epoch_windows);
        EXPECT_GE(b.steps * batch, b.windows) << n_train << " " << epochs << " " << batch;
        EXPECT_LT((b.steps - 1) * batch, b.windows) << n_train << " " << epochs << " " << batch;
      }

  // End to end on a corpus of 5 windows per epoch, batch 4, 3 epochs: 15 windows in 4 steps.
  DataConfig d;
  d.path = "data/tinyshakespeare.txt";
  Corpus c = load_corpus(d, TINYFRONT_SOURCE_DIR);
  c.train.resize(48);
  cfg.model.context = 8;
  cfg.model.dropout = 0.1;
  cfg.train.batch = 4;
  cfg.train.epochs = 3;
  cfg.train.eval_every = 1;
  cfg.train.eval_windows = 4;
  TrainResult r = train_run(cfg, c);
  EXPECT_EQ(r.status, RunStatus::done) << r.message;
  EXPECT_EQ(r.steps, 4);
  EXPECT_EQ(r.train_windows, 15);
  EXPECT_TRUE(std::isfinite(r.test_nll));
}
