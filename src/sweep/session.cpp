#include "tinyfront/sweep/session.hpp"

#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/sweep/budget_limits.hpp"

namespace fs = std::filesystem;

namespace tinyfront {

namespace {

// The spec text stored in the results file: the file as written plus the command-line overrides,
// so that the stored text alone describes the runs.
std::string stored_spec_text(const SweepSpec& spec, const std::vector<std::string>& sets) {
  std::string text = spec.text;
  for (auto& s : sets) text += "\n# tinyfront sweep --set " + s;
  return text;
}

// Explains a stored run that the spec no longer contains: the closest run of the spec and the
// fields that differ.
std::string changed_definition(const RunRecord& stored, const std::vector<RunConfig>& runs) {
  auto a = config_to_json(stored.config);
  std::string best;
  size_t best_count = SIZE_MAX;
  for (auto& r : runs) {
    auto b = config_to_json(r);
    std::string diff;
    size_t n = 0;
    for (auto& [section, fields] : a.items())
      for (auto& [k, v] : fields.items())
        if (k != "threads" && k != "budget" && b[section][k] != v) {
          ++n;
          diff += (diff.empty() ? "" : ", ") + section + "." + k + " " + v.dump() + " -> " +
                  b[section][k].dump();
        }
    if (n < best_count) best_count = n, best = diff;
  }
  return "run " + stored.run_id + " in the results file is not in the spec any more (" +
         (best.empty() ? std::string("no similar run") : "changed: " + best) + ")";
}

// The spec's runs in the shard, within the budget limits.
void take_runs(SweepSession& s) {
  const SessionOptions& o = s.options;
  if (!o.shared_checkpoints.empty() && fs::exists(o.shared_checkpoints) &&
      !fs::is_directory(o.shared_checkpoints))
    throw SpecError({{"<command line>", 0, 0, "--shared-checkpoint-dir",
                      o.shared_checkpoints + " exists and is not a directory"}});
  const Shard shard = parse_shard(o.shard);
  s.spec = load_sweep_spec(o.spec_path, o.sets);
  for (size_t k = 0; k < s.spec.runs.size(); ++k)
    if (in_shard(s.spec.ids[k], shard.index, shard.count)) {
      s.runs.push_back(s.spec.runs[k]);
      s.run_ids.push_back(s.spec.ids[k]);
    }
  // Budget limits, before any compute.
  const std::vector<std::string> over =
      exceeded_limits(s.spec.settings, sweep_cost(s.spec, s.runs, o.flops_per_second), o.workers);
  if (!over.empty() && !o.ignore_limits) {
    std::string msg;
    for (auto& x : over) msg += (msg.empty() ? "" : "; ") + x;
    throw SpecError({{o.spec_path, 0, 0, "sweep", msg + " (--ignore-limits to run anyway)"}});
  }
}

// What the results file holds decides what runs. store_scan reads only ids and statuses (fast
// on 100,000-run files); full records only to explain a mismatch.
std::map<std::string, RunStatus> open_results(SweepSession& s) {
  const SessionOptions& o = s.options;
  std::map<std::string, RunStatus> stored;
  if (!fs::exists(o.out) && fs::exists(o.out + ".journal")) {
    // The results file was lost (deleted mid-sweep, or moved away after being replaced) but
    // its journal holds the runs recorded since the last fold: rebuild from it.
    s.store = store_rebuild_from_journal(o.out, stored_spec_text(s.spec, o.sets));
    s.rebuilt_runs = store_run_count(*s.store);
  }
  if (!fs::exists(o.out)) {
    s.store = store_create(o.out, stored_spec_text(s.spec, o.sets));
    s.created = true;
    return stored;
  }
  if (!s.store) s.store = store_open(o.out);
  const std::set<std::string> ids(s.run_ids.begin(), s.run_ids.end());
  bool foreign = false;
  for (const RunSummary& r : store_scan(o.out)) {
    stored[r.run_id] = r.status;
    if (!ids.count(r.run_id)) foreign = true;
  }
  if (foreign && o.shard.empty())
    for (const RunRecord& rec : store_read_runs(o.out))
      if (!ids.count(rec.run_id))
        throw Error(o.out + ": " + changed_definition(rec, s.runs) +
                    "; use a new results file for a different grid");
  return stored;
}

void resume(SweepSession& s) {
  const std::map<std::string, RunStatus> stored = open_results(s);
  for (size_t k = 0; k < s.runs.size(); ++k) {
    auto it = stored.find(s.run_ids[k]);
    const std::optional<RunStatus> status =
        it == stored.end() ? std::nullopt : std::optional<RunStatus>(it->second);
    if (should_run(status, s.options.retry_failed))
      s.todo.push_back(s.runs[k]);
    else
      ++s.skipped;
  }
  // Vocabularies, stored once per dataset.
  for (auto& [name, data] : vocabulary_names(s.todo))
    store_put_vocab(*s.store, name, load_corpus(data, s.spec.base_dir).vocab);
}

}  // namespace

Shard parse_shard(const std::string& text) {
  Shard s;
  if (text.empty()) return s;
  int used = 0;
  if (std::sscanf(text.c_str(), "%d/%d%n", &s.index, &s.count, &used) != 2 ||
      size_t(used) != text.size() || text.find_first_of(" +-") != std::string::npos ||
      s.count < 1 || s.index < 0 || s.index >= s.count)
    throw SpecError({{"<command line>", 0, 0, "--shard",
                      "expected i/n with 0 <= i < n (e.g. 0/4), got '" + text + "'"}});
  return s;
}

bool should_run(std::optional<RunStatus> stored, bool retry_failed) {
  if (!stored) return true;
  if (*stored == RunStatus::done || *stored == RunStatus::diverged) return false;
  if (*stored == RunStatus::failed) return retry_failed;
  return true;
}

std::vector<std::pair<std::string, DataConfig>> vocabulary_names(
    const std::vector<RunConfig>& runs) {
  std::map<std::string, std::set<std::string>> keys_of_name;
  for (auto& r : runs) keys_of_name[r.data.name].insert(data_key(r.data));
  std::vector<std::pair<std::string, DataConfig>> names;
  std::set<std::string> seen;
  for (auto& r : runs) {
    if (!seen.insert(data_key(r.data)).second) continue;
    std::string name = r.data.name;
    if (keys_of_name[name].size() > 1) {
      RunConfig probe;
      probe.data = r.data;
      // Appended piece by piece: "." + std::string&& trips a false GCC 12 -Wrestrict warning.
      name += '.';
      name += run_id(probe).substr(0, 8);
    }
    names.emplace_back(name, r.data);
  }
  return names;
}

std::string checkpoint_dir_of(const std::string& results_path, const std::string& shared_dir) {
  return shared_dir.empty() ? results_path + ".ckpt" : shared_dir;
}

SweepSession open_sweep_session(const SessionOptions& options) {
  SweepSession s;
  s.options = options;
  s.checkpoints = CheckpointDir(checkpoint_dir_of(options.out, options.shared_checkpoints));
  try {
    take_runs(s);
    if (options.simulate)
      s.todo = s.runs;
    else
      resume(s);
  } catch (...) {
    if (s.store) {
      // A failed command leaves nothing new behind: a results file this session created holds
      // no run yet (the failure came before any), so it and its journal go.
      const bool empty = store_run_count(*s.store) == 0;
      try {
        store_close(*s.store);
      } catch (const std::exception&) {
      }
      if (s.created && empty) {
        std::error_code ec;
        fs::remove(options.out, ec);
        fs::remove(options.out + ".journal", ec);
      }
    }
    throw;
  }
  return s;
}

void session_record(SweepSession& s, const std::vector<RunRecord>& recs) {
  try {
    store_append_all(*s.store, recs);
  } catch (const std::exception& e) {
    // Recorded in the journal, then the results file was found lost: e says it all.
    bool recorded = true;
    for (const RunRecord& r : recs)
      recorded = recorded && store_status(*s.store, r.run_id) == r.result.status;
    if (recorded) throw;
    std::string ids;
    for (const RunRecord& r : recs) ids += (ids.empty() ? "" : ", ") + r.run_id;
    throw Error(std::string(e.what()) + "; cannot record run" + (recs.size() > 1 ? "s " : " ") +
                ids + " in " + s.options.out +
                ". The runs recorded before are kept: fix the cause and run the same command "
                "again to resume");
  }
  for (const RunRecord& rec : recs)
    if (rec.result.status != RunStatus::preempted) s.checkpoints.remove(rec.run_id);
}

void session_progress(SweepSession& s, const SweepProgress& p) {
  store_check_file(*s.store);
  progress_write(s.options.out, p);
}

void session_close(SweepSession& s) {
  if (s.store) store_close(*s.store);
}

}  // namespace tinyfront
