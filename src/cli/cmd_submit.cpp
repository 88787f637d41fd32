// tinyfront submit SPEC: a Slurm batch script from a template
// (slurm/*.sbatch.in), then sbatch.
//
// The spec is validated first (a bad spec is an error and no job is submitted).
// The batch script is written beside the results file; `sbatch --parsable`
// submits it and the job id is printed. With --shards n the job-array template
// runs shard $SLURM_ARRAY_TASK_ID of n into one results file per shard (join
// them with `tinyfront merge`). See docs/slurm.md.

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "tinyfront/cli/checks.hpp"
#include "tinyfront/cli/commands.hpp"
#include "tinyfront/slurm/batch_script.hpp"
#include "tinyfront/slurm/sbatch.hpp"
#include "tinyfront/slurm/time_limit.hpp"
#include "tinyfront/spec/sweep_spec.hpp"
#include "tinyfront/sweep/budget_limits.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"
#include "tinyfront/util/share.hpp"
#include "tinyfront/util/system.hpp"

namespace fs = std::filesystem;

namespace tinyfront::cli {

namespace {

struct SubmitOptions {
  std::string spec;
  std::vector<std::string> sets;
  int nodes = 1;
  int ntasks_per_node = 2;
  int cpus_per_task = 1;
  std::string time = "01:00:00";
  std::string partition;
  int signal_seconds = -1;  // -1: chosen from the time limit
  std::string launcher = "srun";
  std::string out;
  int shards = 1;
  std::string template_path;
  std::string job_name;
  std::vector<std::string> sbatch_args;
  bool no_fast_requeue = false;
  bool ignore_limits = false;
  bool dry_run = false;
  bool force = false;
  bool json = false;
};

SpecError option_error(const std::string& option, const std::string& reason) {
  return SpecError({{"<command line>", 0, 0, option, reason}});
}

std::string read_text(const std::string& path) {
  return read_regular_file(path, "batch template");
}

std::string shard_path(const std::string& prefix, int i, int n) {
  return prefix + ".shard" + std::to_string(i) + "-of-" + std::to_string(n) + ".h5";
}

}  // namespace

Command add_submit(CLI::App& app) {
  auto opt = std::make_shared<SubmitOptions>();
  CLI::App* sub = app.add_subcommand("submit",
                                     "Write a Slurm batch script for a sweep "
                                     "(checkpointed, requeued at the time "
                                     "limit) and submit it with sbatch");
  sub->add_option("spec", opt->spec, "Sweep spec (TOML), validated before anything is submitted")
      ->required();
  sub->add_option("--set", opt->sets, "Override passed to the sweep: section.key=value");
  sub->add_option("-N,--nodes", opt->nodes, "Nodes")
      ->default_val(1)
      ->check(whole_number(1, 1 << 20));
  sub->add_option("--ntasks-per-node", opt->ntasks_per_node,
                  "MPI ranks per node (rank 0 schedules, the others train)")
      ->default_val(2)
      ->check(whole_number(1, 1 << 16));
  sub->add_option("-c,--cpus-per-task", opt->cpus_per_task,
                  "CPUs per rank = training threads per rank (sweep.threads_per_rank)")
      ->default_val(1)
      ->check(whole_number(1, 1024));
  sub->add_option("-t,--time", opt->time,
                  "Time limit of one allocation (Slurm format: MM, HH:MM:SS, "
                  "D-HH:MM ...); the "
                  "sweep is checkpointed and requeued when it runs out")
      ->default_val("01:00:00");
  sub->add_option("-p,--partition", opt->partition, "Partition (default: the cluster's)");
  sub->add_option("--signal-seconds", opt->signal_seconds,
                  "SIGUSR1 this many seconds before the time limit (default: "
                  "300, or a quarter "
                  "of a short time limit, at least 60)")
      ->check(whole_number(1, 65535));
  sub->add_option("--launcher", opt->launcher, "How ranks start: srun (--mpi=pmix) or mpirun")
      ->default_val("srun")
      ->check(CLI::IsMember({"srun", "mpirun"}));
  sub->add_option("-o,--out", opt->out,
                  "Results file (default: <sweep name>.h5); the batch script "
                  "and the job log "
                  "go beside it");
  sub->add_option("--shards", opt->shards,
                  "Split the grid into n shards, one job-array task and "
                  "results file each")
      ->default_val(1)
      ->check(whole_number(1, 4096));
  sub->add_option("--template", opt->template_path,
                  "Batch template (default: slurm/sweep.sbatch.in, or "
                  "slurm/sweep-array.sbatch.in "
                  "with --shards, of the source tree)");
  sub->add_option("-J,--job-name", opt->job_name, "Job name (default: the sweep's name)");
  sub->add_option("--sbatch-arg", opt->sbatch_args,
                  "Extra argument for sbatch, e.g. --sbatch-arg=--account=abc "
                  "(repeatable)");
  sub->add_flag("--no-fast-requeue", opt->no_fast_requeue,
                "After a requeue, wait for Slurm's requeue delay instead of "
                "resetting the begin "
                "time");
  sub->add_flag("--ignore-limits", opt->ignore_limits,
                "Submit even if the spec's "
                "max_total_flops/max_run_flops/max_hours are exceeded "
                "(passed on to the sweep)");
  sub->add_flag("--dry-run", opt->dry_run, "Write the batch script but do not call sbatch");
  sub->add_flag("--force", opt->force,
                "Replace an existing batch script even if tinyfront did not write it");
  sub->add_flag("--json", opt->json, "One JSON object on stdout");
  return [opt]() -> int {
    // ---- options and spec, before anything is written
    const int cpus = opt->cpus_per_task;
    std::vector<std::string> sets = opt->sets;
    sets.push_back("sweep.threads_per_rank=" + std::to_string(cpus));
    SweepSpec spec = load_sweep_spec(opt->spec, sets);  // SpecError: exit 2, nothing submitted

    const long limit = slurm::parse_time(opt->time);
    const int signal_seconds = slurm::signal_seconds(limit, opt->signal_seconds);
    if (opt->shards > 4096) throw option_error("--shards", "at most 4096");

    // Each run's shard, from its id hashed once (not once per shard: 4,096
    // shards of a million runs).
    std::vector<int> shard_of(spec.runs.size(), 0);
    std::vector<int> per_shard(size_t(opt->shards), 0);
    for (size_t k = 0; k < spec.runs.size(); ++k) {
      shard_of[k] = tinyfront::shard_of(spec.ids[k], opt->shards);
      per_shard[size_t(shard_of[k])] += 1;
    }

    // The spec's limits, as `tinyfront sweep` checks them at its start (per
    // shard), so that a job does not wait in the queue only to refuse to start.
    if (!opt->ignore_limits) {
      const int workers = opt->nodes * opt->ntasks_per_node - 1;
      for (int i = 0; i < opt->shards; ++i) {
        std::vector<RunConfig> shard;
        for (size_t k = 0; k < spec.runs.size(); ++k)
          if (shard_of[k] == i) shard.push_back(spec.runs[k]);
        std::vector<std::string> over =
            exceeded_limits(spec.settings, sweep_cost(spec, shard, 0), workers);
        if (!over.empty())
          throw SpecError(
              {{opt->spec, 0, 0, "sweep",
                over.front() + (opt->shards > 1 ? " in shard " + std::to_string(i) : "") +
                    " (--ignore-limits to submit anyway)"}});
      }
    }

    // ---- paths (absolute: the job runs wherever Slurm starts it)
    std::string out = opt->out.empty() ? spec.settings.name + ".h5" : opt->out;
    fs::path out_abs = fs::absolute(out).lexically_normal();
    if (out_abs.extension() != ".h5")
      throw option_error("--out", "the results file must end in .h5, got '" + out + "'");
    if (!fs::is_directory(out_abs.parent_path()))
      throw option_error("--out",
                         "directory " + out_abs.parent_path().string() + " does not exist");
    const std::string prefix = (out_abs.parent_path() / out_abs.stem()).string();
    const bool array = opt->shards > 1;
    std::string tpl = opt->template_path;
    if (tpl.empty())
      tpl = share_file(array ? "slurm/sweep-array.sbatch.in" : "slurm/sweep.sbatch.in");
    const std::string tpl_text = read_text(tpl);
    if (array && tpl_text.find("{{ARRAY}}") == std::string::npos &&
        tpl_text.find("--array") == std::string::npos)
      throw option_error("--template", tpl +
                                           " is not a job-array template (no --array), but "
                                           "--shards is " +
                                           std::to_string(opt->shards));
    const std::string script = prefix + (array ? ".array.sbatch" : ".sbatch");
    // Only a script tinyfront generated may be replaced (or any, with --force).
    check_may_write(script,
                    {"batch script", OutputKind::file, opt->force, slurm::is_generated_script});
    const std::string log = prefix + (array ? "-%A_%a.out" : "-%j.out");
    std::string job_name = opt->job_name.empty() ? spec.settings.name : opt->job_name;
    for (char& ch : job_name)
      if (ch == ' ') ch = '_';  // control characters are refused below, not hidden

    std::string sweep_args;
    for (auto& s : opt->sets)
      sweep_args += (sweep_args.empty() ? "--set " : " --set ") + slurm::shell_quote(s);
    if (opt->ignore_limits)
      sweep_args += (sweep_args.empty() ? "" : " ") + std::string("--ignore-limits");
    std::map<std::string, slurm::TemplateValue> values = {
        {"JOB_NAME",
         {job_name, false,
          opt->job_name.empty() ? "sweep.name (the default job name)" : "-J/--job-name"}},
        {"NODES", {std::to_string(opt->nodes), false, "-N/--nodes"}},
        {"NTASKS_PER_NODE", {std::to_string(opt->ntasks_per_node), false, "--ntasks-per-node"}},
        {"CPUS_PER_TASK", {std::to_string(cpus), false, "-c/--cpus-per-task"}},
        {"TIME", {opt->time, false, "-t/--time"}},
        {"PARTITION", {opt->partition, false, "-p/--partition"}},
        {"SIGNAL_SECONDS", {std::to_string(signal_seconds), false, "--signal-seconds"}},
        {"LOG", {log, false, "-o/--out"}},
        {"LAUNCHER", {opt->launcher, false, "--launcher"}},
        {"TINYFRONT", {executable_path(), false, "the tinyfront binary's path"}},
        {"SPEC", {fs::absolute(opt->spec).lexically_normal().string(), false, "spec"}},
        {"OUT", {out_abs.string(), false, "-o/--out"}},
        {"OUT_PREFIX", {prefix, false, "-o/--out"}},
        {"SHARDS", {std::to_string(opt->shards), false, "--shards"}},
        {"ARRAY", {"0-" + std::to_string(opt->shards - 1), false, "--shards"}},
        {"SWEEP_ARGS", {sweep_args, true, "--set"}},
        {"FAST_REQUEUE", {opt->no_fast_requeue ? "0" : "1", false, "--no-fast-requeue"}},
    };
    // A line saying where the script came from, after the shebang.
    const std::string text =
        slurm::mark_generated(slurm::fill_template(tpl_text, values, tpl), tpl);
    write_file_atomically(script, text, false, 0755);

    std::vector<std::string> outputs;
    if (array)
      for (int i = 0; i < opt->shards; ++i) outputs.push_back(shard_path(prefix, i, opt->shards));
    else
      outputs.push_back(out_abs.string());
    int resuming = 0;
    for (auto& o : outputs) resuming += fs::exists(o);

    const std::vector<std::string> argv = slurm::sbatch_argv(opt->sbatch_args, script);
    std::string job_id;
    if (!opt->dry_run) {
      slurm::Submitted submitted = slurm::submit(argv, script);
      job_id = submitted.job_id;
      if (!submitted.warnings.empty()) std::fprintf(stderr, "%s\n", submitted.warnings.c_str());
    }

    std::string sbatch_cmd;
    for (auto& a : argv) sbatch_cmd += (sbatch_cmd.empty() ? "" : " ") + slurm::shell_quote(a);
    std::string merge_cmd;
    if (array) {
      merge_cmd = "tinyfront merge";
      for (auto& o : outputs) merge_cmd += " " + slurm::shell_quote(o);
      merge_cmd += " -o " + slurm::shell_quote(out_abs.string());
    }
    if (opt->json) {
      nlohmann::ordered_json j;
      j["job_id"] = job_id.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(job_id);
      j["dry_run"] = opt->dry_run;
      j["script"] = script;
      j["log"] = log;
      j["sbatch"] = sbatch_cmd;
      j["sweep"] = spec.settings.name;
      j["runs"] = spec.runs.size();
      j["ranks"] = opt->nodes * opt->ntasks_per_node;
      j["threads_per_rank"] = cpus;
      j["time_limit_seconds"] = limit;
      j["signal_seconds"] = signal_seconds;
      j["launcher"] = opt->launcher;
      j["shards"] = opt->shards;
      j["runs_per_shard"] = per_shard;
      j["outputs"] = outputs;
      j["resuming"] = resuming;
      if (array) j["merge"] = merge_cmd;
      std::cout << j.dump() << "\n";
    } else {
      std::fprintf(stderr,
                   "sweep %s: %zu runs, %d ranks x %d threads, time limit %s, "
                   "SIGUSR1 %d s "
                   "before, launcher %s\n",
                   spec.settings.name.c_str(), spec.runs.size(), opt->nodes * opt->ntasks_per_node,
                   cpus, opt->time.c_str(), signal_seconds, opt->launcher.c_str());
      if (array) {
        std::string counts;
        for (int n : per_shard) counts += (counts.empty() ? "" : ", ") + std::to_string(n);
        std::fprintf(stderr, "%d shards (runs: %s), one results file each: %s\n", opt->shards,
                     counts.c_str(), shard_path(prefix, 0, opt->shards).c_str());
        std::fprintf(stderr, "when every shard is done: %s\n", merge_cmd.c_str());
      } else {
        std::fprintf(stderr, "results: %s%s\n", out_abs.c_str(),
                     resuming ? " (exists: the job resumes it)" : "");
      }
      std::fprintf(stderr, "batch script: %s\nlog: %s\n", script.c_str(), log.c_str());
      if (opt->dry_run)
        std::fprintf(stderr, "dry run, not submitted: %s\n", sbatch_cmd.c_str());
      else
        std::printf("%s\n", job_id.c_str());
    }
    return 0;
  };
}

}  // namespace tinyfront::cli
