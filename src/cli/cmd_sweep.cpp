// tinyfront sweep SPEC --out results.h5: the grid over MPI ranks, into a results file.
// Run under mpirun/srun; rank 0 is the master and the only writer.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>

#include "tinyfront/cli/checks.hpp"
#include "tinyfront/cli/commands.hpp"
#include "tinyfront/cli/exit_codes.hpp"
#include "tinyfront/cli/report.hpp"
#include "tinyfront/mpi/scheduler.hpp"
#include "tinyfront/run/config_json.hpp"
#include "tinyfront/store/checkpoint.hpp"
#include "tinyfront/store/results_file.hpp"
#include "tinyfront/sweep/budget_limits.hpp"

namespace fs = std::filesystem;

namespace tinyfront::cli {

namespace {

struct SweepCliOptions {
  std::string spec, out, shard;
  std::vector<std::string> sets;
  bool simulate = false;
  double simulate_scale = 1e-3;
  double flops_per_second = 0;
  std::string shared_checkpoints;
  bool retry_failed = false;
  bool ignore_limits = false;
  bool json = false;
  bool quiet = false;
};

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

}  // namespace

Command add_sweep(CLI::App& app) {
  auto opt = std::make_shared<SweepCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "sweep", "Run a grid of training runs over MPI ranks (mpirun -n N tinyfront sweep ...)");
  sub->add_option("spec", opt->spec, "Sweep spec, e.g. sweeps/quick.toml")->required();
  sub->add_option("-o,--out", opt->out, "Results file (HDF5); resumed if it exists")->required();
  sub->add_option("--set", opt->sets, "Override: sweep.key=value or section.key=value");
  sub->add_option("--shard", opt->shard, "Run only shard i of n (i/n, 0-based)");
  sub->add_flag("--simulate", opt->simulate,
                "Workers sleep for each run's estimated time instead of training");
  sub->add_option("--simulate-scale", opt->simulate_scale,
                  "Fraction of the estimated time a simulated run sleeps")
      ->default_val(1e-3)
      ->check(finite_number(0, 1e6));
  sub->add_option("--flops-per-second", opt->flops_per_second,
                  "Throughput used for time estimates (default: 2e10)")
      ->check(finite_number(0, INFINITY, true));
  sub->add_option("--shared-checkpoint-dir", opt->shared_checkpoints,
                  "Workers write checkpoints here themselves (a directory every node can reach) "
                  "instead of sending them to rank 0");
  sub->add_flag("--retry-failed", opt->retry_failed, "Run again the runs recorded as failed");
  sub->add_flag("--ignore-limits", opt->ignore_limits,
                "Start even if the spec's max_total_flops/max_run_flops/max_hours are exceeded");
  sub->add_flag("--json", opt->json, "Print a JSON summary on stdout at the end");
  sub->add_flag("-q,--quiet", opt->quiet, "No progress lines");
  return [opt]() -> int {
    MpiWorld world;
    const bool master = world.rank() == 0;
    install_stop_handlers();

    // Only rank 0 reads the spec: each run's message carries all a worker needs, so 1,024
    // workers do not each load every corpus. Rank 0 then tells the workers whether to go on.
    SweepSpec spec;
    std::vector<RunConfig> runs;
    int go = 1;  // 1: run; 0: failed (exit 1); 2: bad spec or options (exit 2)
    std::optional<ResultsStore> store;
    std::vector<RunConfig> todo;
    std::string error;
    CheckpointDir ckpt_dir(opt->shared_checkpoints.empty() ? opt->out + ".ckpt"
                                                           : opt->shared_checkpoints);
    std::optional<SpecError> spec_error;
    bool created = false;  // this sweep created the results file (a failure removes it)
    if (master) {
      try {
        if (!opt->shared_checkpoints.empty() && fs::exists(opt->shared_checkpoints) &&
            !fs::is_directory(opt->shared_checkpoints))
          throw SpecError({{"<command line>", 0, 0, "--shared-checkpoint-dir",
                            opt->shared_checkpoints + " exists and is not a directory"}});
        int shard_i = 0, shard_n = 1, used = 0;
        if (!opt->shard.empty() &&
            (std::sscanf(opt->shard.c_str(), "%d/%d%n", &shard_i, &shard_n, &used) != 2 ||
             size_t(used) != opt->shard.size() ||
             opt->shard.find_first_of(" +-") != std::string::npos || shard_n < 1 || shard_i < 0 ||
             shard_i >= shard_n))
          throw SpecError({{"<command line>", 0, 0, "--shard",
                            "expected i/n with 0 <= i < n (e.g. 0/4), got '" + opt->shard + "'"}});
        spec = load_sweep_spec(opt->spec, opt->sets);
        std::vector<std::string> run_ids;  // of `runs`, from the spec (hashed once)
        for (size_t k = 0; k < spec.runs.size(); ++k)
          if (in_shard(spec.ids[k], shard_i, shard_n)) {
            runs.push_back(spec.runs[k]);
            run_ids.push_back(spec.ids[k]);
          }
        // Budget limits, before any compute.
        const std::vector<std::string> over = exceeded_limits(
            spec.settings, sweep_cost(spec, runs, opt->flops_per_second), world.size() - 1);
        if (!over.empty() && !opt->ignore_limits) {
          std::string msg;
          for (auto& o : over) msg += (msg.empty() ? "" : "; ") + o;
          throw SpecError({{opt->spec, 0, 0, "sweep", msg + " (--ignore-limits to run anyway)"}});
        }

        if (!opt->simulate) {
          // Resume: what the file already holds decides what runs. store_scan reads only ids
          // and statuses (fast on 100,000-run files); full records only to explain a mismatch.
          std::map<std::string, RunStatus> stored;
          if (!fs::exists(opt->out) && fs::exists(opt->out + ".journal")) {
            // The results file was lost (deleted mid-sweep, or moved away after being replaced)
            // but its journal holds the runs recorded since the last fold: rebuild from it.
            store = store_rebuild_from_journal(opt->out, stored_spec_text(spec, opt->sets));
            // Always said, even with -q: runs folded into the lost file are not in the journal.
            std::fprintf(stderr,
                         "[%s] %s was missing: rebuilt it from its journal %s.journal (%lld runs "
                         "recovered; runs that were only in the lost file run again)\n",
                         spec.settings.name.c_str(), opt->out.c_str(), opt->out.c_str(),
                         (long long)store_run_count(*store));
          }
          if (fs::exists(opt->out)) {
            if (!store) store = store_open(opt->out);
            const std::set<std::string> ids(run_ids.begin(), run_ids.end());
            bool foreign = false;
            for (const RunSummary& s : store_scan(opt->out)) {
              stored[s.run_id] = s.status;
              if (!ids.count(s.run_id)) foreign = true;
            }
            if (foreign && opt->shard.empty())
              for (const RunRecord& rec : store_read_runs(opt->out))
                if (!ids.count(rec.run_id))
                  throw Error(opt->out + ": " + changed_definition(rec, runs) +
                              "; use a new results file for a different grid");
          } else {
            store = store_create(opt->out, stored_spec_text(spec, opt->sets));
            created = true;
          }
          int skipped = 0;
          for (size_t k = 0; k < runs.size(); ++k) {
            const RunConfig& r = runs[k];
            auto it = stored.find(run_ids[k]);
            bool skip = it != stored.end() &&
                        (it->second == RunStatus::done || it->second == RunStatus::diverged ||
                         (it->second == RunStatus::failed && !opt->retry_failed));
            if (skip)
              ++skipped;
            else
              todo.push_back(r);
          }
          if (skipped && !opt->quiet)
            std::fprintf(stderr, "[%s] resuming %s: %d of %zu runs already recorded, %zu to run\n",
                         spec.settings.name.c_str(), opt->out.c_str(), skipped, runs.size(),
                         todo.size());
          // Vocabularies, stored once per dataset. Two data configs sharing a name (another
          // tokenizer, say) get the name plus a hash of their config, so neither is lost.
          std::map<std::string, std::set<std::string>> keys_of_name;
          for (auto& r : todo) keys_of_name[r.data.name].insert(data_key(r.data));
          std::set<std::string> stored_keys;
          for (auto& r : todo) {
            const std::string key = data_key(r.data);
            if (!stored_keys.insert(key).second) continue;
            std::string name = r.data.name;
            if (keys_of_name[name].size() > 1) {
              RunConfig probe;
              probe.data = r.data;
              name += "." + run_id(probe).substr(0, 8);
            }
            store_put_vocab(*store, name, load_corpus(r.data, spec.base_dir).vocab);
          }
        } else {
          todo = runs;
        }
      } catch (const SpecError& e) {
        spec_error = e;
        go = 2;
      } catch (const std::exception& e) {
        error = e.what();
        go = 0;
      }
    }
    go = world.broadcast_from_master(go);
    if (go != 1) {
      // The workers wait until the master has said why: a worker that exits first (non-zero)
      // makes mpirun kill the master before its message is out.
      if (!master) {
        world.barrier();
        return go == 2 ? kExitBadInput : kExitFailed;
      }
      if (store) {
        // A failed command leaves nothing new behind: a results file this sweep created holds
        // no run yet (the failure came before any), so it and its journal go.
        const bool empty = store_run_count(*store) == 0;
        try {
          store_close(*store);
        } catch (const std::exception&) {
        }
        if (created && empty) {
          std::error_code ec;
          fs::remove(opt->out, ec);
          fs::remove(opt->out + ".journal", ec);
        }
      }
      // Said here (as main would say it), before the workers are let go.
      std::fprintf(stderr, "error: %s\n", spec_error ? spec_error->what() : error.c_str());
      std::fflush(stderr);
      if (world.size() > 1) world.barrier();
      return spec_error ? kExitBadInput : kExitFailed;
    }

    // From here on every rank is in the sweep. A fatal error on any rank (a results file that
    // cannot be written: disk full, quota, a vanished directory) ends the whole job at once with
    // MPI_Abort: unwinding into the environment's collective MPI_Finalize would hang the ranks
    // that wait for this one. Alone, there is nobody to wait for, and main prints the error.
    try {
      SchedulerOptions so;
      so.simulate = opt->simulate;
      so.simulate_scale = opt->simulate_scale;
      so.flops_per_second = opt->flops_per_second;
      so.quiet = opt->quiet;
      SchedulerCallbacks cb;
      if (master && store) {
        cb.on_results = [&](const std::vector<RunRecord>& recs) {
          try {
            store_append_all(*store, recs);
          } catch (const std::exception& e) {
            // Recorded in the journal, then the results file was found lost: e says it all.
            bool recorded = true;
            for (const RunRecord& r : recs)
              recorded = recorded && store_status(*store, r.run_id) == r.result.status;
            if (recorded) throw;
            std::string ids;
            for (const RunRecord& r : recs) ids += (ids.empty() ? "" : ", ") + r.run_id;
            throw Error(std::string(e.what()) + "; cannot record run" +
                        (recs.size() > 1 ? "s " : " ") + ids + " in " + opt->out +
                        ". The runs recorded before are kept: fix the cause and run the same " +
                        "command again to resume");
          }
          for (const RunRecord& rec : recs)
            if (rec.result.status != RunStatus::preempted) ckpt_dir.remove(rec.run_id);
        };
        cb.on_checkpoint = [&](const std::string& id, const std::string& state) {
          ckpt_dir.write(id, state);
        };
        cb.load_checkpoint = [&](const std::string& id) { return ckpt_dir.read(id); };
        cb.on_progress = [&](const SweepProgress& p) {
          // A results file deleted or replaced mid-sweep is noticed within a second or so, not
          // after every run has trained.
          store_check_file(*store);
          progress_write(opt->out, p);
        };
      }
      if (!master && !opt->shared_checkpoints.empty())
        cb.worker_checkpoint = [&](const std::string& id, const std::string& state) {
          ckpt_dir.write(id, state);
        };
      SweepOutcome outcome = run_sweep(world, spec, todo, so, cb);
      if (!master) return kExitOk;
      if (store) store_close(*store);

      if (!opt->simulate) {
        std::vector<RunRecord> records = store_read_runs(opt->out);
        if (opt->json) {
          std::cout << summary_json(records, outcome).dump() << "\n";
        } else {
          print_results_table(std::cout, records);
        }
      } else {
        nlohmann::ordered_json j;
        j["ranks"] = world.size();
        j["runs"] = outcome.total;
        j["startup_seconds"] = outcome.startup_seconds;
        j["wall_seconds"] = outcome.wall_seconds;
        j["busy_seconds"] = outcome.busy_seconds;
        j["efficiency"] = outcome.efficiency;
        j["dispatch_ms_per_run"] = outcome.dispatch_ms_per_run;
        j["dispatch_cpu_ms_per_run"] = outcome.dispatch_cpu_ms_per_run;
        j["commits"] = outcome.commits;
        std::cout << j.dump() << "\n";
      }
      if (outcome.interrupted) return kExitInterrupted;
      return outcome.failed || outcome.diverged ? kExitFailed : kExitOk;
    } catch (const std::exception& e) {
      if (world.size() == 1) throw;
      abort_job(world, e.what(), kExitFailed);
    }
  };
}

}  // namespace tinyfront::cli
