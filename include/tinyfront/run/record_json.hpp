// RunRecord <-> JSON: the one text form of a run's record, used for MPI messages and the
// results journal. Non-finite numbers (a diverged run's NLL) are written as null and read as NaN.
#pragma once

#include <nlohmann/json.hpp>

#include "tinyfront/run/record.hpp"

namespace tinyfront {

nlohmann::ordered_json result_to_json(const TrainResult& r);
TrainResult result_from_json(const nlohmann::json& j);

nlohmann::ordered_json record_to_json(const RunRecord& r);
RunRecord record_from_json(const nlohmann::json& j);

}  // namespace tinyfront
