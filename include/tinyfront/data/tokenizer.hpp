// Tokenizers: text to token ids and back, under a vocabulary. Characters (each byte a token) or
// words (whitespace-separated, optionally an <eos> token at each line end). The corpus loader
// encodes its splits with it and inference encodes its prompts with it: one encoder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tinyfront/util/enum_names.hpp"

namespace tinyfront {

enum class TokenizerKind { chars, words };
constexpr auto enum_names(TokenizerKind) {
  return std::to_array<EnumName<TokenizerKind>>(
      {{TokenizerKind::chars, "chars"}, {TokenizerKind::words, "words"}});
}

struct Vocabulary {
  TokenizerKind kind = TokenizerKind::chars;
  std::vector<std::string> tokens;  // id -> token (for chars: one-character strings)
  int size() const { return int(tokens.size()); }
  int unk_id() const;  // id of <unk>, or -1
};

// The words of text, line by line, with "<eos>" after each line when eos.
std::vector<std::string> split_words(const std::string& text, bool eos);

// The token ids of text (words: split_words(text, eos); chars: every byte). A token the
// vocabulary lacks becomes <unk> when the vocabulary has one; otherwise throws tinyfront::Error
// "<what>: character N (or token "w") is not in the vocabulary".
std::vector<int32_t> encode(const Vocabulary& v, const std::string& text, bool eos,
                            const std::string& what);
// The same for words already split.
std::vector<int32_t> encode_words(const Vocabulary& v, const std::vector<std::string>& words,
                                  const std::string& what);

}  // namespace tinyfront
