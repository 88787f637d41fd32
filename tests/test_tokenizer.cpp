// The one text encoder (data/tokenizer.hpp): the corpus loader's token streams and a prompt's
// encoding agree, unknown words become <unk>, and a character the vocabulary lacks is an error
// naming where it came from.
#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/data/tokenizer.hpp"
#include "tinyfront/util/error.hpp"

using namespace tinyfront;

TEST(Tokenizer, CharactersEncodeByteByByte) {
  Vocabulary v;
  v.kind = TokenizerKind::chars;
  v.tokens = {"\n", " ", "a", "b"};
  EXPECT_EQ(encode(v, "ab a\n", false, "test"), (std::vector<int32_t>{2, 3, 1, 2, 0}));
  try {
    encode(v, "abc", false, "sample: the prompt");
    FAIL() << "an unknown character must be an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "sample: the prompt: character 99 is not in the vocabulary");
  }
}

TEST(Tokenizer, WordsMapUnknownsToUnkOrFailWithoutOne) {
  Vocabulary v;
  v.kind = TokenizerKind::words;
  v.tokens = {"the", "cat", "<eos>"};
  EXPECT_EQ(encode(v, "the  cat\ncat", true, "w"), (std::vector<int32_t>{0, 1, 2, 1, 2}));
  EXPECT_EQ(encode(v, "the cat\n", false, "w"), (std::vector<int32_t>{0, 1}));
  try {
    encode(v, "the dog", false, "sample: the prompt");
    FAIL() << "an unknown word without <unk> must be an error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "sample: the prompt: token \"dog\" is not in the vocabulary");
  }
  v.tokens.push_back("<unk>");
  EXPECT_EQ(encode(v, "the dog", false, "w"), (std::vector<int32_t>{0, 3}));
}

// The corpus loader tokenizes with the same encoder: re-encoding a split's text under the
// corpus's vocabulary gives its token stream back, characters and words.
TEST(Tokenizer, CorpusSplitsAreTheEncoderOfTheirText) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("tinyfront_tokenizer_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string train = "the cat sat\non the mat\n", valid = "the dog sat\n", test = "a cat\n";
  std::ofstream(dir / "train.txt") << train;
  std::ofstream(dir / "valid.txt") << valid;
  std::ofstream(dir / "test.txt") << test;
  DataConfig d;
  d.path = dir.string();
  d.tokenizer = TokenizerKind::words;
  d.eos = true;
  Corpus w = load_corpus(d);
  EXPECT_EQ(w.vocab.tokens.back(), "<unk>");  // after the training words: "dog" is unknown
  EXPECT_EQ(w.train, encode(w.vocab, train, true, "train"));
  EXPECT_EQ(w.valid, encode(w.vocab, valid, true, "valid"));
  EXPECT_EQ(w.test, encode(w.vocab, test, true, "test"));
  EXPECT_EQ(w.valid[1], w.vocab.unk_id());

  d.tokenizer = TokenizerKind::chars;
  Corpus c = load_corpus(d);
  EXPECT_EQ(c.train, encode(c.vocab, train, false, "train"));
  EXPECT_EQ(c.valid, encode(c.vocab, valid, false, "valid"));
  EXPECT_EQ(c.test, encode(c.vocab, test, false, "test"));

  // A character of a held-out split that the training vocabulary lacks: the error names the
  // corpus and the split.
  d.vocab_from = "train";
  try {
    load_corpus(d);
    FAIL() << "'d' of the valid split is not in the training vocabulary";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir.string() + ": the valid split: character 100"),
              std::string::npos)
        << e.what();
  }
  std::filesystem::remove_all(dir);
}
