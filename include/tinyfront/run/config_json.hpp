// A run's config as canonical JSON, and its identity (run id) hashed from that JSON. The one
// text form of a RunConfig: results files, journals, MPI messages and weights files all use it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "tinyfront/run/config.hpp"

namespace tinyfront {

// Canonical JSON of a config: every field of the table (run/fields.hpp), grouped
// {"data":{...},"model":{...},"train":{...}}, in the table's order. Fields that do not apply to
// the architecture (e.g. layers of a linear model) are normalised first (normalise), so equal runs
// compare and hash equal.
nlohmann::ordered_json config_to_json(const RunConfig& cfg);
RunConfig config_from_json(const nlohmann::json& j);  // inverse of config_to_json

// A run's identity: the first 16 hex digits of the FNV-1a 64 hash of the canonical JSON text,
// leaving out the fields the table marks as not part of a run's identity (train.threads and
// train.budget: how a run is executed or labelled does not make it a different run; both are
// still recorded with its results) and later fields that hold their old behaviour.
std::string run_id(const RunConfig& cfg);

}  // namespace tinyfront
