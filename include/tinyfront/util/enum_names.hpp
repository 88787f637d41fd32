// Every enum's names in one table, written once beside the enum; to_string, parse_enum and the
// "expected a, b, c" lists of error messages all come from it, so a value is spelled the same in
// specs, JSON, HDF5 files, reports and messages, and a new value cannot be half-named.
//
//   enum class Norm { post, pre };
//   constexpr auto enum_names(Norm) {
//     return std::to_array<EnumName<Norm>>({{Norm::post, "post"}, {Norm::pre, "pre"}});
//   }
//
// enum_names is found by argument-dependent lookup; an enum without one gets none of the
// functions below (the templates do not match it).
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <type_traits>

namespace tinyfront {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

template <typename E>
concept NamedEnum = std::is_enum_v<E> && requires(E e) {
  enum_names(e);
};

// The value's name ("?" for a value outside the table, which only a cast can make).
template <NamedEnum E>
constexpr const char* to_string(E value) {
  for (const auto& e : enum_names(E{}))
    if (e.value == value) return e.name;
  return "?";
}

// Sets out to the value named s; false (out unchanged) if no value has that name.
template <NamedEnum E>
bool parse_enum(std::string_view s, E& out) {
  for (const auto& e : enum_names(E{}))
    if (s == e.name) {
      out = e.value;
      return true;
    }
  return false;
}

// The names joined for a message: "relu, gelu, gelu_tanh".
template <NamedEnum E>
std::string enum_choices() {
  std::string out;
  for (const auto& e : enum_names(E{})) {
    if (!out.empty()) out += ", ";
    out += e.name;
  }
  return out;
}

}  // namespace tinyfront
