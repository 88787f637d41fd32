// tinyfront submit SPEC: a Slurm batch script from a template (slurm/*.sbatch.in), then sbatch.
//
// The spec is validated first (a bad spec is an error and no job is submitted). The batch script
// is written beside the results file; `sbatch --parsable` submits it and the job id is printed.
// With --shards n the job-array template runs shard $SLURM_ARRAY_TASK_ID of n into one results
// file per shard (join them with `tinyfront merge`). See docs/slurm.md.
#include <sys/select.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <tuple>

#include "tinyfront/cli/commands.hpp"
#include "tinyfront/sweep/budget_limits.hpp"
#include "tinyfront/sweep/sweep_spec.hpp"
#include "tinyfront/train/spec.hpp"
#include "tinyfront/util/error.hpp"

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
  bool json = false;
};

SpecError option_error(const std::string& option, const std::string& reason) {
  return SpecError({{"<command line>", 0, 0, option, reason}});
}

// Seconds of a Slurm time limit: "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S"; -1 for
// UNLIMITED/INFINITE. Throws on anything else.
long parse_slurm_time(const std::string& t) {
  if (t == "UNLIMITED" || t == "INFINITE" || t == "unlimited" || t == "infinite") return -1;
  static const std::regex re(R"(^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$)");
  std::smatch m;
  if (!std::regex_match(t, m, re))
    throw option_error("--time",
                       "expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS, "
                       "got '" +
                           t + "'");
  auto num = [&](int i) { return m[i].matched ? std::stol(m[i].str()) : 0L; };
  long secs;
  if (m[1].matched) {  // days-hours[:minutes[:seconds]]
    secs = num(1) * 86400 + num(2) * 3600 + num(3) * 60 + num(4);
  } else if (m[4].matched) {  // hours:minutes:seconds
    secs = num(2) * 3600 + num(3) * 60 + num(4);
  } else if (m[3].matched) {  // minutes:seconds
    secs = num(2) * 60 + num(3);
  } else {  // minutes
    secs = num(2) * 60;
  }
  if (secs <= 0) throw option_error("--time", "must be positive, got '" + t + "'");
  return secs;
}

// One word for the shell: as is when it is plain, single-quoted otherwise.
std::string shell_quote(const std::string& s) {
  bool plain = !s.empty();
  for (unsigned char c : s)
    if (!(std::isalnum(c) || std::strchr("_./:=@%+-,", c))) plain = false;
  if (plain) return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct Value {
  std::string text;
  bool words = false;  // already a list of shell words (not quoted again)
};

// Replaces {{NAME}} placeholders. In "#SBATCH" lines values go in as they are, and a line whose
// placeholders are all empty is commented out ("##SBATCH"); in shell code values are quoted as
// one shell word; other comment lines are kept unchanged (they document the placeholders).
std::string fill_template(const std::string& text, const std::map<std::string, Value>& values,
                          const std::string& template_path) {
  static const std::regex ph(R"(\{\{([A-Z0-9_]+)\}\})");
  std::istringstream in(text);
  std::ostringstream out;
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    const bool sbatch = line.rfind("#SBATCH", 0) == 0;
    const bool comment = !sbatch && line.find_first_not_of(" \t") != std::string::npos &&
                         line[line.find_first_not_of(" \t")] == '#';
    if (comment) {
      out << line << "\n";
      continue;
    }
    std::string result;
    bool any = false, all_empty = true;
    auto begin = std::sregex_iterator(line.begin(), line.end(), ph);
    size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
      const std::string name = (*it)[1].str();
      auto v = values.find(name);
      if (v == values.end())
        throw Error(template_path + ":" + std::to_string(lineno) + ": unknown placeholder {{" +
                    name + "}}");
      any = true;
      if (!v->second.text.empty()) all_empty = false;
      result += line.substr(last, size_t(it->position()) - last);
      if (sbatch || v->second.words)
        result += v->second.text;
      else
        result += v->second.text.empty() ? "''" : shell_quote(v->second.text);
      last = size_t(it->position() + it->length());
    }
    result += line.substr(last);
    if (sbatch && any && all_empty) result = "#" + result + "   # (not set)";
    out << result << "\n";
  }
  return out.str();
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot read the batch template");
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::string self_binary() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the tinyfront binary (/proc/self/exe): " + ec.message());
  return p.string();
}

struct Captured {
  int code = -1;
  std::string out, err;
};

// Runs argv (PATH lookup), capturing stdout and stderr separately.
Captured run_capture(const std::vector<std::string>& argv) {
  Captured c;
  int po[2], pe[2];
  if (pipe(po) != 0 || pipe(pe) != 0) throw Error("pipe: " + std::string(std::strerror(errno)));
  pid_t pid = fork();
  if (pid < 0) throw Error("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    dup2(po[1], 1);
    dup2(pe[1], 2);
    close(po[0]), close(po[1]), close(pe[0]), close(pe[1]);
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "%s: %s\n", argv[0].c_str(), std::strerror(errno));
    _exit(127);
  }
  close(po[1]), close(pe[1]);
  // Read both pipes without deadlocking on either (sbatch output is small; poll for safety).
  std::array<char, 4096> buf;
  bool open_o = true, open_e = true;
  while (open_o || open_e) {
    fd_set fds;
    FD_ZERO(&fds);
    if (open_o) FD_SET(po[0], &fds);
    if (open_e) FD_SET(pe[0], &fds);
    if (select(std::max(po[0], pe[0]) + 1, &fds, nullptr, nullptr, nullptr) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (auto [fd, open, dst] : {std::tuple<int, bool*, std::string*>{po[0], &open_o, &c.out},
                                 std::tuple<int, bool*, std::string*>{pe[0], &open_e, &c.err}}) {
      if (!*open || !FD_ISSET(fd, &fds)) continue;
      ssize_t n = read(fd, buf.data(), buf.size());
      if (n <= 0)
        *open = false;
      else
        dst->append(buf.data(), size_t(n));
    }
  }
  close(po[0]), close(pe[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  c.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return c;
}

std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

std::string shard_path(const std::string& prefix, int i, int n) {
  return prefix + ".shard" + std::to_string(i) + "-of-" + std::to_string(n) + ".h5";
}

}  // namespace

Command add_submit(CLI::App& app) {
  auto opt = std::make_shared<SubmitOptions>();
  CLI::App* sub = app.add_subcommand(
      "submit",
      "Write a Slurm batch script for a sweep (checkpointed, requeued at the time "
      "limit) and submit it with sbatch");
  sub->add_option("spec", opt->spec, "Sweep spec (TOML), validated before anything is submitted")
      ->required();
  sub->add_option("--set", opt->sets, "Override passed to the sweep: section.key=value");
  sub->add_option("-N,--nodes", opt->nodes, "Nodes")->default_val(1)->check(CLI::PositiveNumber);
  sub->add_option("--ntasks-per-node", opt->ntasks_per_node,
                  "MPI ranks per node (rank 0 schedules, the others train)")
      ->default_val(2)
      ->check(CLI::PositiveNumber);
  sub->add_option("-c,--cpus-per-task", opt->cpus_per_task,
                  "CPUs per rank = training threads per rank (sweep.threads_per_rank)")
      ->default_val(1)
      ->check(CLI::PositiveNumber);
  sub->add_option("-t,--time", opt->time,
                  "Time limit of one allocation (Slurm format: MM, HH:MM:SS, D-HH:MM ...); the "
                  "sweep is checkpointed and requeued when it runs out")
      ->default_val("01:00:00");
  sub->add_option("-p,--partition", opt->partition, "Partition (default: the cluster's)");
  sub->add_option("--signal-seconds", opt->signal_seconds,
                  "SIGUSR1 this many seconds before the time limit (default: 300, or a quarter "
                  "of a short time limit, at least 60)")
      ->check(CLI::PositiveNumber);
  sub->add_option("--launcher", opt->launcher, "How ranks start: srun (--mpi=pmix) or mpirun")
      ->default_val("srun")
      ->check(CLI::IsMember({"srun", "mpirun"}));
  sub->add_option("-o,--out", opt->out,
                  "Results file (default: <sweep name>.h5); the batch script and the job log "
                  "go beside it");
  sub->add_option("--shards", opt->shards,
                  "Split the grid into n shards, one job-array task and results file each")
      ->default_val(1)
      ->check(CLI::PositiveNumber);
  sub->add_option("--template", opt->template_path,
                  "Batch template (default: slurm/sweep.sbatch.in, or slurm/sweep-array.sbatch.in "
                  "with --shards, of the source tree)");
  sub->add_option("-J,--job-name", opt->job_name, "Job name (default: the sweep's name)");
  sub->add_option("--sbatch-arg", opt->sbatch_args,
                  "Extra argument for sbatch, e.g. --sbatch-arg=--account=abc (repeatable)");
  sub->add_flag("--no-fast-requeue", opt->no_fast_requeue,
                "After a requeue, wait for Slurm's requeue delay instead of resetting the begin "
                "time");
  sub->add_flag("--ignore-limits", opt->ignore_limits,
                "Submit even if the spec's max_total_flops/max_run_flops/max_hours are exceeded "
                "(passed on to the sweep)");
  sub->add_flag("--dry-run", opt->dry_run, "Write the batch script but do not call sbatch");
  sub->add_flag("--json", opt->json, "One JSON object on stdout");
  return [opt]() -> int {
    // ---- options and spec, before anything is written
    const int cpus = opt->cpus_per_task;
    std::vector<std::string> sets = opt->sets;
    sets.push_back("sweep.threads_per_rank=" + std::to_string(cpus));
    SweepSpec spec = load_sweep_spec(opt->spec, sets);  // SpecError: exit 2, nothing submitted

    const long limit = parse_slurm_time(opt->time);
    int signal_seconds = opt->signal_seconds;
    if (signal_seconds < 0) {
      if (limit < 0)
        signal_seconds = 300;
      else if (limit <= 60)
        throw option_error("--time", "a time limit of " + std::to_string(limit) +
                                         " s leaves no time to checkpoint: give --signal-seconds "
                                         "or a longer --time");
      else
        signal_seconds = int(std::min<long>(300, std::max<long>(60, limit / 4)));
    }
    if (limit >= 0 && signal_seconds >= limit)
      throw option_error("--signal-seconds", std::to_string(signal_seconds) +
                                                 " s is not shorter than the time "
                                                 "limit (" +
                                                 std::to_string(limit) + " s)");
    if (signal_seconds > 65535)
      throw option_error("--signal-seconds", "at most 65535 (a Slurm limit)");
    if (opt->shards > 4096) throw option_error("--shards", "at most 4096");

    std::vector<int> per_shard(size_t(opt->shards), 0);
    for (auto& r : spec.runs)
      for (int i = 0; i < opt->shards; ++i)
        if (in_shard(run_id(r), i, opt->shards)) per_shard[size_t(i)] += 1;

    // The spec's limits, as `tinyfront sweep` checks them at its start (per shard), so that a job
    // does not wait in the queue only to refuse to start.
    if (!opt->ignore_limits) {
      const int workers = opt->nodes * opt->ntasks_per_node - 1;
      for (int i = 0; i < opt->shards; ++i) {
        std::vector<RunConfig> shard;
        for (auto& r : spec.runs)
          if (in_shard(run_id(r), i, opt->shards)) shard.push_back(r);
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
      tpl = std::string(TINYFRONT_SOURCE_DIR) +
            (array ? "/slurm/sweep-array.sbatch.in" : "/slurm/sweep.sbatch.in");
    const std::string tpl_text = read_text(tpl);
    if (array && tpl_text.find("{{ARRAY}}") == std::string::npos &&
        tpl_text.find("--array") == std::string::npos)
      throw option_error("--template", tpl +
                                           " is not a job-array template (no --array), but "
                                           "--shards is " +
                                           std::to_string(opt->shards));
    const std::string script = prefix + (array ? ".array.sbatch" : ".sbatch");
    const std::string log = prefix + (array ? "-%A_%a.out" : "-%j.out");
    std::string job_name = opt->job_name.empty() ? spec.settings.name : opt->job_name;
    for (char& ch : job_name)
      if (std::isspace(static_cast<unsigned char>(ch))) ch = '_';

    std::string sweep_args;
    for (auto& s : opt->sets)
      sweep_args += (sweep_args.empty() ? "--set " : " --set ") + shell_quote(s);
    if (opt->ignore_limits)
      sweep_args += (sweep_args.empty() ? "" : " ") + std::string("--ignore-limits");
    std::map<std::string, Value> values = {
        {"JOB_NAME", {job_name}},
        {"NODES", {std::to_string(opt->nodes)}},
        {"NTASKS_PER_NODE", {std::to_string(opt->ntasks_per_node)}},
        {"CPUS_PER_TASK", {std::to_string(cpus)}},
        {"TIME", {opt->time}},
        {"PARTITION", {opt->partition}},
        {"SIGNAL_SECONDS", {std::to_string(signal_seconds)}},
        {"LOG", {log}},
        {"LAUNCHER", {opt->launcher}},
        {"TINYFRONT", {self_binary()}},
        {"SPEC", {fs::absolute(opt->spec).lexically_normal().string()}},
        {"OUT", {out_abs.string()}},
        {"OUT_PREFIX", {prefix}},
        {"SHARDS", {std::to_string(opt->shards)}},
        {"ARRAY", {"0-" + std::to_string(opt->shards - 1)}},
        {"SWEEP_ARGS", {sweep_args, true}},
        {"FAST_REQUEUE", {opt->no_fast_requeue ? "0" : "1"}},
    };
    std::string text = fill_template(tpl_text, values, tpl);
    // A line saying where the script came from, after the shebang.
    {
      std::string note = "# Generated by `tinyfront submit` from " + tpl + "\n";
      size_t nl = text.rfind("#!", 0) == 0 ? text.find('\n') + 1 : 0;
      text.insert(nl, note);
    }
    {
      std::ofstream f(script, std::ios::trunc);
      if (!f) throw Error(script + ": cannot write the batch script");
      f << text;
      if (!f.flush()) throw Error(script + ": write failed");
    }
    fs::permissions(script, fs::perms::owner_exec | fs::perms::group_exec, fs::perm_options::add);

    std::vector<std::string> outputs;
    if (array)
      for (int i = 0; i < opt->shards; ++i) outputs.push_back(shard_path(prefix, i, opt->shards));
    else
      outputs.push_back(out_abs.string());
    int resuming = 0;
    for (auto& o : outputs) resuming += fs::exists(o);

    std::vector<std::string> argv = {"sbatch", "--parsable"};
    for (auto& a : opt->sbatch_args) argv.push_back(a);
    argv.push_back(script);

    std::string job_id;
    if (!opt->dry_run) {
      Captured c = run_capture(argv);
      if (c.code == 127)
        throw Error("sbatch not found (is Slurm installed and in PATH?): " + trim(c.err));
      if (c.code != 0)
        throw Error("sbatch failed (exit " + std::to_string(c.code) + "): " + trim(c.err + c.out) +
                    "\n  batch script: " + script);
      // --parsable prints "jobid" or "jobid;cluster" as its last line.
      std::istringstream lines(c.out);
      std::string l;
      while (std::getline(lines, l))
        if (!trim(l).empty()) job_id = trim(l).substr(0, trim(l).find(';'));
      if (job_id.empty() || job_id.find_first_not_of("0123456789") != std::string::npos)
        throw Error("sbatch printed no job id: '" + trim(c.out) + "'");
      if (!trim(c.err).empty()) std::fprintf(stderr, "%s\n", trim(c.err).c_str());
    }

    std::string sbatch_cmd;
    for (auto& a : argv) sbatch_cmd += (sbatch_cmd.empty() ? "" : " ") + shell_quote(a);
    std::string merge_cmd;
    if (array) {
      merge_cmd = "tinyfront merge";
      for (auto& o : outputs) merge_cmd += " " + shell_quote(o);
      merge_cmd += " -o " + shell_quote(out_abs.string());
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
                   "sweep %s: %zu runs, %d ranks x %d threads, time limit %s, SIGUSR1 %d s "
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
