// Setting RunConfig fields from TOML nodes: the job spec parser uses it for whole files, the sweep
// spec parser for [defaults], grid axes, sub-grids and includes, the analysis for the config
// fields of reference tables. The one public header that includes toml++ (scripts/
// check-includes.sh allows it here only): include it from .cpp files, never from a header.
#pragma once

#include <toml++/toml.h>

#include <memory>
#include <string>
#include <vector>

#include "tinyfront/run/config.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront {

// Applies the [data]/[model]/[train] sections found in `root` onto cfg. Unknown sections or keys,
// wrong types and out-of-range values are appended to `issues` (with file, line, column).
void apply_spec_table(RunConfig& cfg, const toml::table& root, const std::string& file,
                      std::vector<SpecIssue>& issues);

// Applies one field given by its dotted name ("model.heads") from a TOML node, keeping the
// node's source position for messages. Unknown names are reported as issues.
void apply_field(RunConfig& cfg, const std::string& dotted_key, const toml::node& value,
                 const std::string& file, std::vector<SpecIssue>& issues);

// apply_field for many fields on one config: the field table is built once, bound to `target`
// (which must outlive the writer), instead of once per field. Expanding a grid of a million
// points applies millions of fields.
class FieldWriter {
 public:
  explicit FieldWriter(RunConfig& target);
  ~FieldWriter();
  void apply(const std::string& dotted_key, const toml::node& value, const std::string& file,
             std::vector<SpecIssue>& issues);

 private:
  struct Table;
  std::unique_ptr<Table> table_;
};

}  // namespace tinyfront
