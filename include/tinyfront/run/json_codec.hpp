// The record codec: how a run's values are written as JSON, shared by every JSON form of a record
// (the MPI result message and the report, run/record_json.hpp; the results journal,
// src/store/journal.hpp). JSON cannot hold every value a record has, so those become tagged
// objects ("armour"):
//   * non-finite numbers (a diverged run's NLL): {"$f":"nan"|"-nan"|"inf"|"-inf"}
//   * strings that are not UTF-8 (byte tokens, a host name in another encoding): {"$hex":"..."}
// Everything else is plain JSON. unarmor undoes it exactly, so a record survives a round trip
// bit for bit.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tinyfront/run/result.hpp"

namespace tinyfront {

nlohmann::json armor(const nlohmann::json& j);
nlohmann::ordered_json armor(const nlohmann::ordered_json& j);
// Throws tinyfront::Error on a malformed tag.
nlohmann::json unarmor(const nlohmann::json& j);

// One number: armored on the way out; on the way in also null (NaN), the form records had
// before the codec was shared.
nlohmann::json number_to_json(double x);
double number_from_json(const nlohmann::json& j);

// A learning curve: one array per point, [step, tokens, train_loss, val_loss, lr, seconds], the
// four floats as number_to_json.
nlohmann::json curve_to_json(const std::vector<CurvePoint>& curve);
std::vector<CurvePoint> curve_from_json(const nlohmann::json& j);

}  // namespace tinyfront
