// The results store's write-ahead journal format (private to src/store).
//
//   journal := header frame*
//   header  := "tinyfront-journal 1 " <file_id: 32 hex> " " <generation: decimal> "\n"
//   frame   := <payload length: decimal> " " <CRC-32 of payload: 8 lowercase hex> " " payload "\n"
//
// The payload is one JSON document on one line (JSON text escapes newlines), so the journal is
// also greppable text: {"type":"run","row":{<column>: value, ...},"curve":[[...], ...]} or
// {"type":"vocab","name":...,"kind":...,"tokens":[...]}, values in the store's record codec
// (run/json_codec.hpp: non-finite numbers and non-UTF-8 strings tagged). A frame only counts when
// its length, terminator and checksum all match: a record torn by a crash in the middle of its
// write fails one of them and is ignored, along with anything after it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "layout.hpp"
#include "tinyfront/data/corpus.hpp"

namespace tinyfront::journal {

struct Header {
  std::string file_id;     // the results file this journal belongs to
  int64_t generation = 0;  // applies on top of the snapshot with the same generation
};

struct Contents {
  Header header;
  std::vector<std::string> payloads;  // complete, checksummed records in write order
  size_t valid_bytes = 0;             // header + complete records
  size_t total_bytes = 0;             // > valid_bytes: a torn tail was ignored
};

uint32_t crc32(std::string_view bytes);

std::string header_text(const Header& h);
std::string frame(std::string_view payload);

// Throws tinyfront::Error naming `path` if the header is not a journal header.
Contents parse(std::string_view bytes, const std::string& path);

// ---- the records a payload holds ----

struct PendingRun {
  layout::Row row;
  std::vector<CurvePoint> curve;
};
struct PendingVocab {
  std::string name;
  Vocabulary vocab;
};
using Entry = std::variant<PendingRun, PendingVocab>;

std::string encode_run(const layout::Row& row, const std::vector<CurvePoint>& curve);
std::string encode_vocab(const std::string& name, const Vocabulary& v);
// Throws naming `jpath`: a complete (checksummed) record that cannot be read is refused, never
// dropped.
Entry decode_entry(const std::string& payload, const std::string& jpath);

// Tells two vocabularies apart (kind and every token's bytes).
uint64_t vocab_fingerprint(const Vocabulary& v);
// Throws unless `name` can name an HDF5 dataset and no token holds a NUL byte.
void check_vocab(const std::string& name, const Vocabulary& v);

}  // namespace tinyfront::journal
