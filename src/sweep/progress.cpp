#include "tinyfront/sweep/progress.hpp"

#include <signal.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"
#include "tinyfront/util/system.hpp"

namespace tinyfront {

namespace {

nlohmann::ordered_json to_json(const SweepProgress& p) {
  nlohmann::ordered_json j;
  j["sweep"] = p.sweep;
  j["state"] = p.state;
  j["host"] = p.host;
  j["pid"] = p.pid;
  j["ranks"] = p.ranks;
  j["started_at"] = p.started_at;
  j["updated_at"] = p.updated_at;
  j["total"] = p.total;
  j["finished"] = p.finished;
  j["running"] = p.running;
  j["failed"] = p.failed;
  j["diverged"] = p.diverged;
  j["elapsed_seconds"] = p.elapsed_seconds;
  j["eta_seconds"] = p.eta_seconds;
  j["best"] = nlohmann::ordered_json::object();
  for (auto& [dataset, b] : p.best)
    j["best"][dataset] = {{"test_nll", b.test_nll}, {"description", b.description}};
  j["running_runs"] = nlohmann::ordered_json::array();
  for (auto& r : p.running_runs)
    j["running_runs"].push_back({{"run_id", r.run_id},
                                 {"description", r.description},
                                 {"rank", r.rank},
                                 {"started_at", r.started_at}});
  return j;
}

SweepProgress from_json(const nlohmann::json& j) {
  SweepProgress p;
  p.sweep = j.at("sweep").get<std::string>();
  p.state = j.at("state").get<std::string>();
  p.host = j.at("host").get<std::string>();
  p.pid = j.at("pid").get<int>();
  p.ranks = j.at("ranks").get<int>();
  p.started_at = j.at("started_at").get<double>();
  p.updated_at = j.at("updated_at").get<double>();
  p.total = j.at("total").get<int>();
  p.finished = j.at("finished").get<int>();
  p.running = j.at("running").get<int>();
  p.failed = j.at("failed").get<int>();
  p.diverged = j.at("diverged").get<int>();
  p.elapsed_seconds = j.at("elapsed_seconds").get<double>();
  p.eta_seconds = j.at("eta_seconds").get<double>();
  for (auto& [dataset, b] : j.at("best").items())
    p.best[dataset] = {b.at("test_nll").get<double>(), b.at("description").get<std::string>()};
  for (auto& r : j.at("running_runs"))
    p.running_runs.push_back({r.at("run_id").get<std::string>(),
                              r.at("description").get<std::string>(), r.at("rank").get<int>(),
                              r.at("started_at").get<double>()});
  return p;
}

}  // namespace

std::string progress_path(const std::string& results_path) {
  return results_path + ".progress.json";
}

void progress_write(const std::string& results_path, const SweepProgress& p) {
  // Not fsync'd: the file only describes the present; after a crash a stale one is harmless
  // (its pid is gone) and the results file is the record.
  // Whole or not at all: a full disk must not leave an empty progress file behind.
  write_file_atomically(progress_path(results_path), to_json(p).dump() + "\n");
}

std::optional<SweepProgress> progress_read(const std::string& results_path) {
  std::string text;
  try {
    text = read_regular_file(progress_path(results_path), "");  // never blocks on a FIFO
  } catch (const Error&) {
    return std::nullopt;
  }
  try {
    return from_json(nlohmann::json::parse(text));
  } catch (const std::exception&) {
    return std::nullopt;  // from another version, or garbage: there is no live progress to show
  }
}

bool progress_is_live(const SweepProgress& p, double now, double stale_seconds) {
  if (p.state != "running") return false;
  if (p.host == host_name()) return p.pid > 0 && (kill(p.pid, 0) == 0 || errno == EPERM);
  return now - p.updated_at < stale_seconds;
}

}  // namespace tinyfront
