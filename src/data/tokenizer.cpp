#include "tinyfront/data/tokenizer.hpp"

#include <algorithm>
#include <sstream>
#include <unordered_map>

#include "tinyfront/util/error.hpp"

namespace tinyfront {

int Vocabulary::unk_id() const {
  auto it = std::find(tokens.begin(), tokens.end(), "<unk>");
  return it == tokens.end() ? -1 : int(it - tokens.begin());
}

std::vector<std::string> split_words(const std::string& text, bool eos) {
  std::vector<std::string> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream ws(line);
    std::string w;
    while (ws >> w) out.push_back(w);
    if (eos) out.push_back("<eos>");
  }
  return out;
}

std::vector<int32_t> encode_words(const Vocabulary& v, const std::vector<std::string>& words,
                                  const std::string& what) {
  std::unordered_map<std::string, int32_t> id;
  id.reserve(v.tokens.size());
  for (size_t i = 0; i < v.tokens.size(); ++i) id.emplace(v.tokens[i], int32_t(i));
  const int32_t unk = v.unk_id();
  std::vector<int32_t> out;
  out.reserve(words.size());
  for (const std::string& w : words) {
    auto it = id.find(w);
    if (it != id.end())
      out.push_back(it->second);
    else if (unk >= 0)
      out.push_back(unk);
    else
      throw Error(what + ": token \"" + w + "\" is not in the vocabulary");
  }
  return out;
}

std::vector<int32_t> encode(const Vocabulary& v, const std::string& text, bool eos,
                            const std::string& what) {
  if (v.kind == TokenizerKind::words) return encode_words(v, split_words(text, eos), what);
  // Characters: a table by byte value (a character vocabulary has no <unk>: every byte of a
  // text must be in it).
  int32_t id_of[256];
  std::fill(id_of, id_of + 256, -1);
  for (size_t i = 0; i < v.tokens.size(); ++i)
    if (v.tokens[i].size() == 1) id_of[static_cast<unsigned char>(v.tokens[i][0])] = int32_t(i);
  std::vector<int32_t> out;
  out.reserve(text.size());
  for (unsigned char ch : text) {
    if (id_of[ch] < 0)
      throw Error(what + ": character " + std::to_string(int(ch)) + " is not in the vocabulary");
    out.push_back(id_of[ch]);
  }
  return out;
}

}  // namespace tinyfront
