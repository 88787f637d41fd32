// Job specs: a single run described in TOML, parsed into a RunConfig with every problem reported
// at once (file:line:column, dotted key, reason), before any compute is spent.
//
// The sections are [data], [model] and [train]; their keys, types, ranges and choices are the
// field table's (for_each_field in run/fields.hpp; docs/sweep-spec.md lists them).
// toml++ stays inside the spec module: the functions that take TOML nodes are in the private
// src/spec/toml_fields.hpp, for the sweep spec parser. A config's JSON form and run id are in
// run/config_json.hpp.
#pragma once

#include <string>
#include <vector>

#include "tinyfront/run/config.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront {

// Reads and validates a job spec. `overrides` are "section.key=value" strings (the CLI's --set),
// parsed as TOML values. Throws SpecError listing every issue.
RunConfig load_job_spec(const std::string& path, const std::vector<std::string>& overrides = {});

// Applies one "section.key=value" override; appends an issue if it is malformed.
void apply_override(RunConfig& cfg, const std::string& assignment, std::vector<SpecIssue>& issues);

}  // namespace tinyfront
