#include "tinyfront/run/config_json.hpp"

#include <cstdio>
#include <type_traits>

#include "tinyfront/run/fields.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront {

nlohmann::ordered_json config_to_json(const RunConfig& c) {
  const RunConfig n = normalise(c);
  nlohmann::ordered_json j;
  for_each_field(n, [&j](const FieldInfo& f, const auto& member, const auto&) {
    using T = std::decay_t<decltype(member)>;
    if constexpr (std::is_enum_v<T>)
      j[f.section][f.key] = to_string(member);
    else
      j[f.section][f.key] = member;
  });
  return j;
}

RunConfig config_from_json(const nlohmann::json& j) {
  RunConfig c;
  for_each_field(c, [&j](const FieldInfo& f, auto& member, const auto&) {
    using T = std::decay_t<decltype(member)>;
    const std::string name = std::string(f.section) + "." + f.key;
    const auto section = j.find(f.section);
    if (section == j.end() || !section->contains(f.key)) {
      // Fields added later are absent from configs written before them (weights, checkpoints
      // of schema 1; train.budget before 0.2): they keep their defaults.
      if (f.unhashed_default || !f.in_spec) return;
      throw Error("config_from_json: no " + name);
    }
    const nlohmann::json& v = section->at(f.key);
    if constexpr (std::is_enum_v<T>) {
      if (!parse_enum(v.get<std::string>(), member))
        throw Error("config_from_json: bad value for " + name);
    } else {
      member = v.get<T>();
    }
  });
  return c;
}

std::string run_id(const RunConfig& cfg) {
  auto j = config_to_json(cfg);
  for_each_field(cfg, [&j](const FieldInfo& f, const auto&, const auto&) {
    // How a run is executed or labelled (threads, budget) does not make it another run; fields
    // added after the first results files enter the hash only when they differ from the
    // behaviour those files had, so that their run ids (and resumes) stay valid.
    auto& section = j[f.section];
    if (!f.identity || (f.unhashed_default && section[f.key].dump() == f.unhashed_default))
      section.erase(f.key);
  });
  std::string text = j.dump();
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a 64
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 0x100000001b3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)h);
  return buf;
}

}  // namespace tinyfront
