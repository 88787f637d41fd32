// The results store's write-ahead journal format (private to src/store).
//
//   journal := header frame*
//   header  := "tinyfront-journal 1 " <file_id: 32 hex> " " <generation: decimal> "\n"
//   frame   := <payload length: decimal> " " <CRC-32 of payload: 8 lowercase hex> " " payload "\n"
//
// The payload is one JSON document on one line (JSON text escapes newlines), so the journal is
// also greppable text. A frame only counts when its length, terminator and checksum all match:
// a record torn by a crash in the middle of its write fails one of them and is ignored, along
// with anything after it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace tinyfront::journal
