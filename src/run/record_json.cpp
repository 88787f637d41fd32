#include "tinyfront/run/record_json.hpp"

#include <cmath>
#include <limits>

#include "tinyfront/run/config_json.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront {

namespace {
nlohmann::json num(double x) {
  return std::isfinite(x) ? nlohmann::json(x) : nlohmann::json();
}
double get_num(const nlohmann::json& j, const char* key) {
  const auto& v = j.at(key);
  return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
}
}  // namespace

nlohmann::ordered_json result_to_json(const TrainResult& r) {
  nlohmann::ordered_json j;
  j["status"] = to_string(r.status);
  j["message"] = r.message;
  j["params"] = r.params;
  j["params_non_embedding"] = r.params_non_embedding;
  j["steps"] = r.steps;
  j["train_windows"] = r.train_windows;
  j["train_tokens"] = r.train_tokens;
  j["train_targets"] = r.train_targets;
  j["flops_study"] = num(r.flops_study);
  j["flops_kaplan"] = num(r.flops_kaplan);
  j["flops_exact"] = num(r.flops_exact);
  j["best_val_nll"] = num(r.best_val_nll);
  j["best_val_step"] = r.best_val_step;
  j["test_nll"] = num(r.test_nll);
  j["test_ppl"] = num(r.test_ppl);
  j["test_bpc"] = num(r.test_bpc);
  j["wall_seconds"] = num(r.wall_seconds);
  j["tokens_per_second"] = num(r.tokens_per_second);
  auto& c = j["curve"] = nlohmann::ordered_json::array();
  for (const CurvePoint& p : r.curve)
    c.push_back({p.step, p.tokens, num(p.train_loss), num(p.val_loss), num(p.lr), p.seconds});
  return j;
}

TrainResult result_from_json(const nlohmann::json& j) {
  TrainResult r;
  if (!parse_enum(j.at("status").get<std::string>(), r.status))
    throw Error("record: unknown status " + j.at("status").dump());
  r.message = j.at("message").get<std::string>();
  r.params = j.at("params");
  r.params_non_embedding = j.at("params_non_embedding");
  r.steps = j.at("steps");
  r.train_windows = j.at("train_windows");
  r.train_tokens = j.at("train_tokens");
  r.train_targets = j.at("train_targets");
  r.flops_study = get_num(j, "flops_study");
  r.flops_kaplan = get_num(j, "flops_kaplan");
  r.flops_exact = get_num(j, "flops_exact");
  r.best_val_nll = get_num(j, "best_val_nll");
  r.best_val_step = j.at("best_val_step");
  r.test_nll = get_num(j, "test_nll");
  r.test_ppl = get_num(j, "test_ppl");
  r.test_bpc = get_num(j, "test_bpc");
  r.wall_seconds = get_num(j, "wall_seconds");
  r.tokens_per_second = get_num(j, "tokens_per_second");
  auto nan_or = [](const nlohmann::json& v) {
    return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : v.get<double>();
  };
  for (const auto& p : j.at("curve"))
    r.curve.push_back({p.at(0).get<int64_t>(), p.at(1).get<int64_t>(), nan_or(p.at(2)),
                       nan_or(p.at(3)), nan_or(p.at(4)), p.at(5).get<double>()});
  return r;
}

nlohmann::ordered_json record_to_json(const RunRecord& r) {
  nlohmann::ordered_json j;
  j["run_id"] = r.run_id;
  j["config"] = config_to_json(r.config);
  j["result"] = result_to_json(r.result);
  j["rank"] = r.rank;
  j["host"] = r.host;
  j["started_at"] = r.started_at;
  j["finished_at"] = r.finished_at;
  return j;
}

RunRecord record_from_json(const nlohmann::json& j) {
  RunRecord r;
  r.run_id = j.at("run_id").get<std::string>();
  r.config = config_from_json(j.at("config"));
  r.result = result_from_json(j.at("result"));
  r.rank = j.at("rank");
  r.host = j.at("host").get<std::string>();
  r.started_at = j.at("started_at");
  r.finished_at = j.at("finished_at");
  return r;
}

}  // namespace tinyfront
