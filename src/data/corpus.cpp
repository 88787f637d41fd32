#include "tinyfront/data/corpus.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <unordered_map>

#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"
#include "tinyfront/util/share.hpp"

namespace fs = std::filesystem;

namespace tinyfront {

std::string resolve_data_path(const std::string& path, const std::string& base_dir) {
  fs::path p(path);
  if (p.is_absolute()) return p.string();
  if (!base_dir.empty() && fs::exists(fs::path(base_dir) / p))
    return (fs::path(base_dir) / p).lexically_normal().string();
  if (fs::exists(p)) return p.string();
  if (std::optional<std::string> share = share_dir(); share && fs::exists(fs::path(*share) / p))
    return fs::canonical(fs::path(*share) / p).string();
  return path;
}

namespace {

const std::string kSplitNames[3] = {"train", "valid", "test"};

// A corpus file: a regular file (a FIFO would block, /dev/zero would never end) of text (a NUL
// byte means a binary file, whose "characters" no results file could store as a vocabulary).
std::string read_file(const std::string& path) {
  std::string text = read_regular_file(path, "data.path");
  const size_t nul = text.find('\0');
  if (nul != std::string::npos)
    throw Error("data.path " + path + ": contains a NUL byte (at byte " + std::to_string(nul) +
                "): a binary file, not a text corpus");
  return text;
}

}  // namespace

Corpus load_corpus(const DataConfig& cfg, const std::string& base_dir) {
  Corpus c;
  c.config = cfg;
  c.resolved_path = resolve_data_path(cfg.path, base_dir);
  const std::string& p = c.resolved_path;
  if (!fs::exists(p)) throw Error("data.path: no such file or directory: " + cfg.path);

  // Raw text of the three splits.
  std::string parts[3];
  if (fs::is_directory(p)) {
    const char* names[3] = {"train.txt", "valid.txt", "test.txt"};
    for (int i = 0; i < 3; ++i) {
      fs::path f = fs::path(p) / names[i];
      if (!fs::exists(f))
        throw Error("data.path: directory " + p + " has no " + names[i] +
                    " (expected train.txt, valid.txt, test.txt)");
      parts[i] = read_file(f.string());
    }
  } else {
    std::string text = read_file(p);
    if (cfg.tokenizer == TokenizerKind::chars) {
      size_t n = text.size();
      size_t a = size_t(std::floor(n * cfg.split[0]));
      size_t b = a + size_t(std::floor(n * cfg.split[1]));
      parts[0] = text.substr(0, a), parts[1] = text.substr(a, b - a), parts[2] = text.substr(b);
    } else {
      // Split word corpora on line boundaries so that no line is cut in two.
      std::vector<size_t> starts{0};
      for (size_t i = 0; i < text.size(); ++i)
        if (text[i] == '\n' && i + 1 < text.size()) starts.push_back(i + 1);
      size_t nl = starts.size();
      size_t la = size_t(std::floor(nl * cfg.split[0]));
      size_t lb = la + size_t(std::floor(nl * cfg.split[1]));
      auto off = [&](size_t line) { return line >= nl ? text.size() : starts[line]; };
      parts[0] = text.substr(0, off(la));
      parts[1] = text.substr(off(la), off(lb) - off(la));
      parts[2] = text.substr(off(lb));
    }
  }
  for (int i = 0; i < 3; ++i)
    if (parts[i].empty())
      throw Error("data.path: " + p + ": the " + kSplitNames[i] + " split is empty");

  std::vector<int32_t>* out[3] = {&c.train, &c.valid, &c.test};
  c.vocab.kind = cfg.tokenizer;
  if (cfg.tokenizer == TokenizerKind::chars) {
    bool seen[256] = {};
    int nsrc = cfg.vocab_from == "train" ? 1 : 3;
    for (int i = 0; i < nsrc; ++i)
      for (unsigned char ch : parts[i]) seen[ch] = true;
    for (int ch = 0; ch < 256; ++ch)
      if (seen[ch]) c.vocab.tokens.push_back(std::string(1, char(ch)));
    for (int i = 0; i < 3; ++i)
      *out[i] = encode(c.vocab, parts[i], false,
                       "data.path: " + p + ": the " + kSplitNames[i] + " split");
  } else {
    // Vocabulary from the training split, in order of first appearance (stable ids), and <unk>
    // after it when a held-out word is out of vocabulary and the text has no <unk> of its own.
    std::unordered_map<std::string, int32_t> id_of;
    std::vector<std::string> words[3];
    for (int i = 0; i < 3; ++i) words[i] = split_words(parts[i], cfg.eos);
    for (auto& w : words[0])
      if (id_of.emplace(w, int32_t(c.vocab.tokens.size())).second) c.vocab.tokens.push_back(w);
    if (!id_of.count("<unk>")) {
      bool oov = false;
      for (int i = 1; i < 3 && !oov; ++i)
        for (const std::string& w : words[i])
          if (!id_of.count(w)) {
            oov = true;
            break;
          }
      if (oov) c.vocab.tokens.push_back("<unk>");
    }
    for (int i = 0; i < 3; ++i)
      *out[i] =
          encode_words(c.vocab, words[i], "data.path: " + p + ": the " + kSplitNames[i] + " split");
  }
  if (c.vocab.size() < 2) throw Error("data.path: " + p + ": vocabulary has fewer than 2 tokens");
  // Truncation comes after the vocabulary, which stays that of the whole splits.
  for (int i = 0; i < 3; ++i) {
    const int64_t limit = i < int(cfg.max_tokens.size()) ? cfg.max_tokens[size_t(i)] : 0;
    if (limit > 0 && limit < int64_t(out[i]->size())) out[i]->resize(size_t(limit));
  }
  return c;
}

double unigram_entropy(const std::vector<int32_t>& tokens, int vocab) {
  std::vector<double> count(size_t(vocab), 0.0);
  for (int32_t t : tokens) count[size_t(t)] += 1;
  double n = double(tokens.size()), h = 0;
  for (double c : count)
    if (c > 0) h -= (c / n) * std::log(c / n);
  return h;
}

}  // namespace tinyfront
