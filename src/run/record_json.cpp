#include "tinyfront/run/record_json.hpp"

#include "tinyfront/run/config_json.hpp"
#include "tinyfront/run/json_codec.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront {

namespace {
nlohmann::json num(double x) {
  return number_to_json(x);
}
double get_num(const nlohmann::json& j, const char* key) {
  return number_from_json(j.at(key));
}
// Strings of a record may be bytes (a host name, a message quoting a file): armored when they
// are not UTF-8, which JSON text cannot hold.
nlohmann::json text(const std::string& s) {
  return armor(nlohmann::json(s));
}
std::string get_text(const nlohmann::json& j, const char* key) {
  return unarmor(j.at(key)).get<std::string>();
}
}  // namespace

nlohmann::ordered_json result_to_json(const TrainResult& r) {
  nlohmann::ordered_json j;
  j["status"] = to_string(r.status);
  j["message"] = text(r.message);
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
  j["curve"] = curve_to_json(r.curve);
  return j;
}

TrainResult result_from_json(const nlohmann::json& j) {
  TrainResult r;
  if (!parse_enum(j.at("status").get<std::string>(), r.status))
    throw Error("record: unknown status " + j.at("status").dump());
  r.message = get_text(j, "message");
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
  r.curve = curve_from_json(j.at("curve"));
  return r;
}

nlohmann::ordered_json record_to_json(const RunRecord& r) {
  nlohmann::ordered_json j;
  j["run_id"] = r.run_id;
  j["config"] = armor(config_to_json(r.config));
  // Set from the corpus, so config_to_json leaves it out; the record still carries it (the
  // journal's model.vocab column), and a record must round-trip.
  j["config"]["model"]["vocab"] = r.config.model.vocab;
  j["result"] = result_to_json(r.result);
  j["rank"] = r.rank;
  j["host"] = text(r.host);
  j["started_at"] = num(r.started_at);
  j["finished_at"] = num(r.finished_at);
  return j;
}

RunRecord record_from_json(const nlohmann::json& j) {
  RunRecord r;
  r.run_id = j.at("run_id").get<std::string>();
  r.config = config_from_json(unarmor(j.at("config")));
  r.config.model.vocab = j.at("config").at("model").value("vocab", 0);
  r.result = result_from_json(j.at("result"));
  r.rank = j.at("rank");
  r.host = get_text(j, "host");
  r.started_at = get_num(j, "started_at");
  r.finished_at = get_num(j, "finished_at");
  return r;
}

}  // namespace tinyfront
