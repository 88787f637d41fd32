#include "tinyfront/util/error.hpp"

#include <sstream>

namespace tinyfront {

std::string SpecIssue::to_string() const {
  std::ostringstream s;
  s << (file.empty() ? "<spec>" : file);
  if (line > 0) s << ':' << line << ':' << column;
  s << ": ";
  if (!key.empty()) s << key << ": ";
  s << reason;
  return s.str();
}

static std::string join_issues(const std::vector<SpecIssue>& issues) {
  std::string s;
  for (size_t i = 0; i < issues.size(); ++i) {
    if (i) s += "\n";
    s += issues[i].to_string();
  }
  return s;
}

SpecError::SpecError(std::vector<SpecIssue> issues)
    : std::runtime_error(join_issues(issues)), issues_(std::move(issues)) {}

}  // namespace tinyfront
