#include "journal.hpp"

#include <array>
#include <charconv>
#include <cstdio>

#include "tinyfront/run/json_codec.hpp"
#include "tinyfront/util/error.hpp"

using nlohmann::json;

namespace tinyfront::journal {

using layout::Row;

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

// ---- records ----

std::string encode_run(const Row& row, const std::vector<CurvePoint>& curve) {
  json j = json::object();
  j["type"] = "run";
  j["row"] = layout::row_to_json(row);
  j["curve"] = curve_to_json(curve);
  return j.dump();
}

std::string encode_vocab(const std::string& name, const Vocabulary& v) {
  json tokens = json::array();
  for (auto& t : v.tokens) tokens.push_back(armor(json(t)));
  json j = json::object();
  j["type"] = "vocab";
  j["name"] = armor(json(name));
  j["kind"] = to_string(v.kind);
  j["tokens"] = std::move(tokens);
  return j.dump();
}

Entry decode_entry(const std::string& payload, const std::string& jpath) {
  try {
    json j = json::parse(payload);
    const std::string type = j.at("type").get<std::string>();
    if (type == "run")
      return PendingRun{layout::row_from_json(j.at("row")), curve_from_json(j.at("curve"))};
    if (type == "vocab") {
      PendingVocab v;
      v.name = unarmor(j.at("name")).get<std::string>();
      if (!parse_enum(j.at("kind").get<std::string>(), v.vocab.kind))
        throw Error("unknown vocabulary kind");
      for (auto& t : j.at("tokens")) v.vocab.tokens.push_back(unarmor(t).get<std::string>());
      return v;
    }
    throw Error("unknown record type '" + type + "'");
  } catch (const std::exception& e) {
    // The checksum matched, so this is not a torn write: refuse rather than drop results.
    throw Error(jpath + ": a complete journal record cannot be read (" + e.what() +
                "); the journal was written by another tinyfront version or damaged");
  }
}

uint64_t vocab_fingerprint(const Vocabulary& v) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      h ^= static_cast<const unsigned char*>(p)[i];
      h *= 0x100000001b3ull;
    }
  };
  int kind = int(v.kind);
  mix(&kind, sizeof kind);
  for (auto& t : v.tokens) {
    uint64_t n = t.size();
    mix(&n, sizeof n);
    mix(t.data(), t.size());
  }
  return h;
}

void check_vocab(const std::string& name, const Vocabulary& v) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    throw Error("results store: vocabulary name '" + name +
                "' cannot name an HDF5 dataset (empty, '.', '..' or containing '/')");
  for (size_t i = 0; i < v.tokens.size(); ++i)
    if (v.tokens[i].find('\0') != std::string::npos)
      throw Error("results store: vocabulary " + name + ": token " + std::to_string(i) +
                  " contains a NUL byte, which HDF5 strings cannot hold");
}

}  // namespace tinyfront::journal
