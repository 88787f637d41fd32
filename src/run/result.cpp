#include "tinyfront/run/result.hpp"

namespace tinyfront {

const char* to_string(RunStatus s) {
  switch (s) {
    case RunStatus::pending:
      return "pending";
    case RunStatus::running:
      return "running";
    case RunStatus::done:
      return "done";
    case RunStatus::diverged:
      return "diverged";
    case RunStatus::failed:
      return "failed";
    case RunStatus::preempted:
      return "preempted";
  }
  return "?";
}

bool parse_enum(const std::string& s, RunStatus& out) {
  for (RunStatus v : {RunStatus::pending, RunStatus::running, RunStatus::done, RunStatus::diverged,
                      RunStatus::failed, RunStatus::preempted})
    if (s == to_string(v)) {
      out = v;
      return true;
    }
  return false;
}

}  // namespace tinyfront
