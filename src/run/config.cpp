#include "tinyfront/run/config.hpp"

namespace tinyfront {

const char* to_string(Schedule s) {
  return s == Schedule::constant ? "constant" : "cosine";
}
bool parse_enum(const std::string& s, Schedule& out) {
  if (s == "constant")
    out = Schedule::constant;
  else if (s == "cosine")
    out = Schedule::cosine;
  else
    return false;
  return true;
}

}  // namespace tinyfront
