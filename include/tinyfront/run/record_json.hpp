// RunRecord <-> JSON: the text form of a whole run's record, used for MPI messages and the
// report. Values in the record codec (run/json_codec.hpp), shared with the results journal:
// non-finite numbers (a diverged run's NLL) and non-UTF-8 strings are tagged, so a record
// round-trips bit for bit; null (the older form of a non-finite number) reads as NaN.
#pragma once

#include <nlohmann/json.hpp>

#include "tinyfront/run/record.hpp"

namespace tinyfront {

nlohmann::ordered_json result_to_json(const TrainResult& r);
TrainResult result_from_json(const nlohmann::json& j);

nlohmann::ordered_json record_to_json(const RunRecord& r);
RunRecord record_from_json(const nlohmann::json& j);

}  // namespace tinyfront
