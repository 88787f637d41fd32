#include "tinyfront/cli/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include "tinyfront/analysis/frontier.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/run/record_json.hpp"

namespace tinyfront::cli {

namespace {

std::string model_label(const RunConfig& c) {
  const ModelConfig& m = c.model;
  char buf[200];
  switch (m.arch) {
    case Arch::linear:
      std::snprintf(buf, sizeof buf, "linear T=%d d=%d%s", m.context, m.d_model,
                    m.one_hot ? " one-hot" : "");
      break;
    case Arch::mlp: {
      std::string h;
      for (int x : m.hidden) {
        if (!h.empty()) h += ',';
        h += std::to_string(x);
      }
      std::snprintf(buf, sizeof buf, "mlp T=%d d=%d h=%s", m.context, m.d_model, h.c_str());
      break;
    }
    default:
      std::snprintf(buf, sizeof buf, "%s L=%d H=%d d=%d ff=%d T=%d %s %s-LN", to_string(m.arch),
                    m.blocks(), m.heads, m.d_model, m.ff, m.context, to_string(m.positions),
                    to_string(m.norm));
  }
  return buf;
}

}  // namespace

void print_results_table(std::ostream& out, const std::vector<RunRecord>& records) {
  // Best run per (dataset, protocol, model).
  std::map<std::string, const RunRecord*> best;
  int done = 0, other = 0;
  for (const RunRecord& r : records) {
    if (r.result.status != RunStatus::done || !std::isfinite(r.result.test_nll)) {
      ++other;
      continue;
    }
    ++done;
    std::string key = r.config.data.name + "|" + to_string(r.config.train.protocol) + "|" +
                      config_to_json(r.config)["model"].dump();
    auto it = best.find(key);
    if (it == best.end() || r.result.test_nll < it->second->result.test_nll) best[key] = &r;
  }
  std::vector<const RunRecord*> rows;
  for (auto& [k, r] : best) rows.push_back(r);
  std::sort(rows.begin(), rows.end(), [](auto* a, auto* b) {
    if (a->config.data.name != b->config.data.name)
      return a->config.data.name < b->config.data.name;
    return a->result.flops_study < b->result.flops_study;
  });
  // The frontier per (dataset, protocol) in study FLOPs, by the analysis's one definition.
  std::map<const RunRecord*, bool> frontier;
  std::map<std::string, std::vector<const RunRecord*>> slices;
  for (auto* r : rows)
    slices[r->config.data.name + "|" + to_string(r->config.train.protocol)].push_back(r);
  for (auto& [slice, members] : slices) {
    std::vector<double> cost, loss;
    std::vector<std::string> ids;
    for (auto* r : members) {
      cost.push_back(r->result.flops_study);
      loss.push_back(r->result.test_nll);
      ids.push_back(run_id(r->config));
    }
    for (size_t i : pareto_frontier(cost, loss, ids)) frontier[members[i]] = true;
  }
  char line[512];
  std::snprintf(line, sizeof line, "%-16s %-6s %-46s %10s %11s %11s %8s %8s  %s\n", "dataset",
                "proto", "model (best over lr/seed)", "params", "FLOPs(2PT)", "FLOPs(exact)",
                "test NLL", "lr", "frontier");
  out << line;
  for (auto* r : rows) {
    std::snprintf(line, sizeof line, "%-16s %-6s %-46s %10lld %11.3e %11.3e %8.4f %8.1e  %s\n",
                  r->config.data.name.c_str(), to_string(r->config.train.protocol),
                  model_label(r->config).c_str(), (long long)r->result.params,
                  r->result.flops_study, r->result.flops_exact, r->result.test_nll,
                  r->config.train.lr, frontier[r] ? "*" : "");
    out << line;
  }
  std::snprintf(line, sizeof line, "%d runs done, %d not done (failed, diverged or unfinished)\n",
                done, other);
  out << line;
}

nlohmann::ordered_json summary_json(const std::vector<RunRecord>& records, const SweepOutcome& o) {
  nlohmann::ordered_json j;
  j["runs_scheduled"] = o.total;
  j["done"] = o.done;
  j["diverged"] = o.diverged;
  j["failed"] = o.failed;
  j["preempted"] = o.preempted;
  j["interrupted"] = o.interrupted;
  j["wall_seconds"] = o.wall_seconds;
  j["efficiency"] = o.efficiency;
  j["dispatch_ms_per_run"] = o.dispatch_ms_per_run;
  auto& rs = j["records"] = nlohmann::ordered_json::array();
  for (auto& r : records) {
    auto x = record_to_json(r);
    x["result"].erase("curve");
    rs.push_back(x);
  }
  return j;
}

}  // namespace tinyfront::cli
