// Corpora: reading text, splitting it into train / validation / test and tokenizing them
// (tokenizer.hpp) into token streams.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tinyfront/data/tokenizer.hpp"

namespace tinyfront {

struct DataConfig {
  std::string name = "tinyshakespeare";  // dataset label used in results and analysis
  // A single text file split by `split` fractions, or a directory holding train.txt, valid.txt,
  // test.txt. Relative paths are resolved against the spec file's directory, then the working
  // directory.
  std::string path = "data/tinyshakespeare.txt";
  TokenizerKind tokenizer = TokenizerKind::chars;
  std::vector<double> split{0.9, 0.05, 0.05};  // train, valid, test (single-file corpora)
  bool eos = false;                            // words: append <eos> at every line end
  // chars: build the vocabulary over all three splits (the study's) or train only ("train").
  std::string vocab_from = "all";
  // Keep only the first N tokens of the train, valid and test splits (0 = the whole split). The
  // vocabulary is still built from the whole splits, so a truncated corpus has the same token
  // ids as the full one: the study's word-level runs train on the first 80,000 tokens of PTB
  // with PTB's whole training vocabulary.
  std::vector<int64_t> max_tokens{0, 0, 0};

  bool operator==(const DataConfig&) const = default;
};

struct Corpus {
  DataConfig config;
  std::string resolved_path;
  Vocabulary vocab;
  std::vector<int32_t> train, valid, test;
};

// Throws tinyfront::Error naming the path and what is wrong (missing, empty, too short).
Corpus load_corpus(const DataConfig& cfg, const std::string& base_dir = "");

// Unigram entropy (nats/token) of a token stream: the loss of the best context-free model.
double unigram_entropy(const std::vector<int32_t>& tokens, int vocab);

// Resolve a path from a spec: absolute as is; relative tried against base_dir, then the
// working directory, then tinyfront's share directory (util/share.hpp: shipped data is found
// from anywhere, e.g. the default path data/tinyshakespeare.txt).
std::string resolve_data_path(const std::string& path, const std::string& base_dir);

}  // namespace tinyfront
