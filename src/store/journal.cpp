#include "journal.hpp"

#include <array>
#include <charconv>
#include <cstdio>

#include "tinyfront/util/error.hpp"

namespace tinyfront::journal {

namespace {
constexpr std::string_view kMagic = "tinyfront-journal 1 ";

std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[i] = c;
  }
  return t;
}

bool is_hex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return !s.empty();
}

// Parses a non-negative decimal that ends at `end`; false if not all digits or too long.
bool parse_decimal(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}
}  // namespace

uint32_t crc32(std::string_view bytes) {
  // IEEE 802.3 polynomial, as zlib's crc32; table driven (a record is a few KiB).
  static const std::array<uint32_t, 256> table = make_crc_table();
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) c = table[(c ^ b) & 0xFFu] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::string header_text(const Header& h) {
  return std::string(kMagic) + h.file_id + " " + std::to_string(h.generation) + "\n";
}

std::string frame(std::string_view payload) {
  char crc[9];
  std::snprintf(crc, sizeof crc, "%08x", crc32(payload));
  std::string out = std::to_string(payload.size());
  out.reserve(out.size() + payload.size() + 12);
  out += ' ';
  out += crc;
  out += ' ';
  out += payload;
  out += '\n';
  return out;
}

Contents parse(std::string_view bytes, const std::string& path) {
  Contents c;
  c.total_bytes = bytes.size();
  auto bad_header = [&](const char* why) {
    return Error(path + ": not a tinyfront journal (" + why +
                 "); move it away to open the results file without it");
  };
  if (bytes.substr(0, kMagic.size()) != kMagic) throw bad_header("bad header");
  size_t eol = bytes.find('\n');
  if (eol == std::string_view::npos) throw bad_header("header line is incomplete");
  std::string_view rest = bytes.substr(kMagic.size(), eol - kMagic.size());
  size_t sp = rest.find(' ');
  uint64_t gen = 0;
  if (sp != 32 || !is_hex(rest.substr(0, 32)) || !parse_decimal(rest.substr(33), gen))
    throw bad_header("malformed header line");
  c.header.file_id = std::string(rest.substr(0, 32));
  c.header.generation = int64_t(gen);

  size_t pos = eol + 1;
  c.valid_bytes = pos;
  while (pos < bytes.size()) {
    // <len> ' ' <crc> ' ' payload '\n'; any mismatch ends the scan (torn or damaged tail).
    size_t sp1 = bytes.find(' ', pos);
    if (sp1 == std::string_view::npos || sp1 - pos > 18) break;
    uint64_t len = 0;
    if (!parse_decimal(bytes.substr(pos, sp1 - pos), len)) break;
    size_t crc_at = sp1 + 1;
    if (crc_at + 9 > bytes.size() || bytes[crc_at + 8] != ' ') break;
    std::string_view crc_text = bytes.substr(crc_at, 8);
    if (!is_hex(crc_text)) break;
    size_t payload_at = crc_at + 9;
    if (len > bytes.size() - payload_at || payload_at + len >= bytes.size()) break;
    if (bytes[payload_at + len] != '\n') break;
    std::string_view payload = bytes.substr(payload_at, len);
    uint32_t want = 0;
    std::from_chars(crc_text.data(), crc_text.data() + 8, want, 16);
    if (crc32(payload) != want) break;
    c.payloads.emplace_back(payload);
    pos = payload_at + len + 1;
    c.valid_bytes = pos;
  }
  return c;
}

}  // namespace tinyfront::journal
