// Errors that point at their source: a spec file, a line and column, a key.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace tinyfront {

// One problem found in a spec, e.g. "quick.toml:12:9: model.heads: must divide d_model (128), got
// 3".
struct SpecIssue {
  std::string file;
  int line = 0;     // 1-based; 0 when unknown
  int column = 0;   // 1-based; 0 when unknown
  std::string key;  // dotted path such as "model.heads"; empty for whole-file problems
  std::string reason;

  std::string to_string() const;
};

// Thrown after validating a whole spec: carries every issue found, not only the first.
class SpecError : public std::runtime_error {
 public:
  explicit SpecError(std::vector<SpecIssue> issues);
  const std::vector<SpecIssue>& issues() const { return issues_; }

 private:
  std::vector<SpecIssue> issues_;
};

// A failure that is not about user input (I/O, a corrupt file, an internal invariant).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace tinyfront
