// Corpora from ../shared/data: the study's Tiny Shakespeare split, PTB and WikiText-2. Skipped,
// saying why, where ../shared/data is absent.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/model/model.hpp"
#include "tinyfront/train/trainer.hpp"

using namespace tinyfront;

namespace {
std::string shared(const std::string& rel) {
  return std::string(TINYFRONT_SHARED_DATA) + "/" + rel;
}

#define REQUIRE_SHARED(rel)                                                \
  if (!std::filesystem::exists(shared(rel)))                               \
  GTEST_SKIP() << shared(rel)                                              \
               << " is absent (the shared data folder is not beside this " \
                  "checkout)"
}  // namespace

TEST(SharedData, PaperSplitOfTinyShakespeare) {
  REQUIRE_SHARED("tinyshakespeare/paper-split");
  DataConfig d;
  d.path = shared("tinyshakespeare/paper-split");
  Corpus c = load_corpus(d);
  EXPECT_EQ(c.train.size(), 892'117u);
  EXPECT_EQ(c.valid.size(), 111'669u);
  EXPECT_EQ(c.test.size(), 111'606u);
  EXPECT_EQ(c.vocab.size(), 65);  // over all three files, as in the study
}

TEST(SharedData, PennTreebankWords) {
  REQUIRE_SHARED("ptb/train.txt");
  DataConfig d;
  d.path = shared("ptb");
  d.tokenizer = TokenizerKind::words;
  Corpus c = load_corpus(d);
  EXPECT_EQ(c.vocab.size(), 9'999);  // the study's: no <eos>, vocabulary from train
  EXPECT_EQ(c.train.size(), 887'521u);
  EXPECT_EQ(c.valid.size(), 70'390u);
  EXPECT_EQ(c.test.size(), 78'669u);
  EXPECT_GE(c.vocab.unk_id(), 0);  // PTB has its own <unk> token
  ModelConfig m;
  m.arch = Arch::transformer;
  m.vocab = c.vocab.size();
  m.context = 64;
  m.ff = 256;
  EXPECT_EQ(count_params(m), 2'975'631);
  d.eos = true;
  Corpus e = load_corpus(d);
  EXPECT_EQ(e.vocab.size(), 10'000);
  EXPECT_EQ(e.train.size(), 929'589u);
}

// The study's word-level data: the first 80,000 training and 20,000 validation/test tokens, with
// the vocabulary (and so the parameter count) of the whole training split.
TEST(SharedData, MaxTokensCutsSplitsAfterTheVocabulary) {
  REQUIRE_SHARED("ptb/train.txt");
  DataConfig d;
  d.path = shared("ptb");
  d.tokenizer = TokenizerKind::words;
  Corpus whole = load_corpus(d);
  d.max_tokens = {80'000, 20'000, 20'000};
  Corpus cut = load_corpus(d);
  EXPECT_EQ(cut.vocab.tokens, whole.vocab.tokens);
  ASSERT_EQ(cut.train.size(), 80'000u);
  EXPECT_EQ(cut.valid.size(), 20'000u);
  EXPECT_EQ(cut.test.size(), 20'000u);
  EXPECT_TRUE(std::equal(cut.train.begin(), cut.train.end(), whole.train.begin()));
  EXPECT_TRUE(std::equal(cut.test.begin(), cut.test.end(), whole.test.begin()));
  // A limit beyond a split's length keeps the whole split; 0 keeps it too.
  d.max_tokens = {0, 10'000'000, 0};
  Corpus same = load_corpus(d);
  EXPECT_EQ(same.train.size(), whole.train.size());
  EXPECT_EQ(same.valid.size(), whole.valid.size());
}

TEST(SharedData, WikiText2Words) {
  REQUIRE_SHARED("wikitext-2/train.txt");
  DataConfig d;
  d.path = shared("wikitext-2");
  d.tokenizer = TokenizerKind::words;
  Corpus c = load_corpus(d);
  EXPECT_EQ(c.vocab.size(), 33'277);
  EXPECT_EQ(c.train.size(), 2'051'910u);
  ModelConfig m;
  m.arch = Arch::transformer;
  m.vocab = c.vocab.size();
  m.context = 64;
  m.ff = 256;
  EXPECT_EQ(count_params(m), 8'958'077);
}

TEST(SharedData, WordLevelTransformerTrainsOnPtb) {
  REQUIRE_SHARED("ptb/train.txt");
  DataConfig d;
  d.path = shared("ptb");
  d.tokenizer = TokenizerKind::words;
  Corpus c = load_corpus(d);
  RunConfig cfg;
  cfg.data = d;
  cfg.model.arch = Arch::transformer;
  cfg.model.context = 16;
  cfg.model.d_model = 32;
  cfg.model.layers = 1;
  cfg.model.heads = 2;
  cfg.model.ff = 64;
  cfg.train.protocol = Protocol::causal;
  cfg.train.tokens = 40'000;
  cfg.train.batch = 16;
  cfg.train.lr = 3e-3;
  cfg.train.eval_windows = 200;
  cfg.train.patience = 3;
  cfg.train.threads = 2;
  TrainResult r = train_run(cfg, c);
  ASSERT_EQ(r.status, RunStatus::done) << r.message;
  EXPECT_LT(r.best_val_nll, std::log(double(c.vocab.size())));  // better than uniform
  EXPECT_LT(r.test_ppl, 2000.0);
  EXPECT_EQ(r.test_bpc, 0.0);  // bits per character only for character corpora
}

TEST(Corpus, WordTokenizerOnAFileSplitsOnLinesAndMapsUnknowns) {
  auto dir = std::filesystem::temp_directory_path() / "tinyfront_words";
  std::filesystem::create_directories(dir);
  std::string text;
  for (int i = 0; i < 100; ++i) text += "the cat sat on the mat\n";
  text += "a dog barked\n";  // only in the test split: out of vocabulary
  std::ofstream(dir / "w.txt") << text;
  DataConfig d;
  d.path = (dir / "w.txt").string();
  d.tokenizer = TokenizerKind::words;
  d.split = {0.9, 0.05, 0.05};
  d.eos = true;
  Corpus c = load_corpus(d);
  EXPECT_EQ(c.vocab.size(), 5 + 1 + 1);  // 5 words, <eos>, <unk>
  int unk = c.vocab.unk_id();
  ASSERT_GE(unk, 0);
  EXPECT_EQ(c.test[c.test.size() - 2], unk);          // "barked"
  EXPECT_EQ(c.vocab.tokens[c.test.back()], "<eos>");  // each line ends with <eos>
}

TEST(Corpus, EmptyAndMissingCorporaAreClearErrors) {
  auto dir = std::filesystem::temp_directory_path() / "tinyfront_empty";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "empty.txt") << "";
  DataConfig d;
  d.path = (dir / "empty.txt").string();
  try {
    load_corpus(d);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("split is empty"), std::string::npos) << e.what();
  }
  d.path = (dir / "missing").string();
  try {
    load_corpus(d);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("no such file"), std::string::npos) << e.what();
  }
  std::filesystem::create_directories(dir / "nodir");
  d.path = (dir / "nodir").string();
  try {
    load_corpus(d);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("has no train.txt"), std::string::npos) << e.what();
  }
}
