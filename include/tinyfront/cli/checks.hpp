// Checks of numeric command-line values, shared by the subcommands. CLI11's own Range lets nan
// through (every comparison with nan is false) and parses "2xyz" in places; these do not.
#pragma once

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string>

namespace tinyfront::cli {

// A finite number in [lo, hi] (or (lo, hi] when lo_open), written as a whole number token.
inline CLI::Validator finite_number(double lo, double hi, bool lo_open = false) {
  auto describe = [=] {
    char buf[96];
    if (std::isinf(hi))
      std::snprintf(buf, sizeof buf, "a finite number %s %g", lo_open ? ">" : ">=", lo);
    else
      std::snprintf(buf, sizeof buf, "a finite number in %s%g, %g]", lo_open ? "(" : "[", lo, hi);
    return std::string(buf);
  };
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        errno = 0;
        char* end = nullptr;
        const double x = std::strtod(text.c_str(), &end);
        const bool whole = !text.empty() && end && *end == '\0';
        if (!whole || errno == ERANGE || !std::isfinite(x) || x < lo || x > hi ||
            (lo_open && x == lo))
          return "expected " + describe() + ", got '" + text + "'";
        return std::string();
      },
      describe());
}

// A whole number in [lo, hi].
inline CLI::Validator whole_number(long long lo, long long hi) {
  const std::string range =
      "an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
  return CLI::Validator(
      [=](std::string& text) -> std::string {
        errno = 0;
        char* end = nullptr;
        const long long x = std::strtoll(text.c_str(), &end, 10);
        if (text.empty() || !end || *end != '\0' || errno == ERANGE || x < lo || x > hi)
          return "expected " + range + ", got '" + text + "'";
        return std::string();
      },
      range);
}

}  // namespace tinyfront::cli
