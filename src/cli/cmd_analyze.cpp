// tinyfront analyze results.h5 --out report/: frontiers, rankings, fits, report and plots.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "tinyfront/analysis/analysis.hpp"
#include "tinyfront/analysis/report.hpp"
#include "tinyfront/analysis/reproduction.hpp"
#include "tinyfront/cli/checks.hpp"
#include "tinyfront/cli/commands.hpp"
#include "tinyfront/store/results_file.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"
#include "tinyfront/util/process.hpp"
#include "tinyfront/util/share.hpp"

namespace fs = std::filesystem;

namespace tinyfront::cli {

Command add_analyze(CLI::App& app) {
  struct Opt {
    std::vector<std::string> inputs;
    std::string out = "report";
    std::string convention = "flops_study";
    bool no_fit = false;
    bool no_plots = false;
    bool json = false;
    std::vector<std::string> references;
    bool force = false;
    std::string reproduction;
    double plan_flops_per_second = 0;
  };
  auto opt = std::make_shared<Opt>();
  CLI::App* sub = app.add_subcommand(
      "analyze", "Pareto frontiers, rankings, scaling-law fits, a report and plots");
  sub->add_option("results", opt->inputs, "Results files (HDF5); runs of all are analysed")
      ->required()
      ->expected(1, -1);
  sub->add_option("-o,--out", opt->out, "Report directory")->default_val("report");
  sub->add_option("--convention", opt->convention,
                  "FLOPs of the headline tables: flops_study, flops_kaplan or flops_exact")
      ->default_val("flops_study");
  sub->add_flag("--no-fit", opt->no_fit, "Skip the scaling-law fits (fast look)");
  sub->add_flag("--no-plots", opt->no_plots, "Do not run analysis/plot_report.py");
  sub->add_flag("--json", opt->json, "Print analysis.json on stdout");
  sub->add_option("--reference", opt->references,
                  "Published figures to compare with (TOML, docs/reference-file.md); repeatable")
      ->expected(1)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  sub->add_flag("--force", opt->force,
                "Write into an existing directory that does not hold an earlier report");
  sub->add_option(
      "--reproduction", opt->reproduction,
      "Also write a reproduction of the --reference study (Markdown: its figures beside "
      "ours, the study's questions with tables and the report's plots) to this file");
  sub->add_option(
         "--plan-flops-per-second", opt->plan_flops_per_second,
         "With --reproduction: the FLOP/s per worker the plan assumed, for a plan-estimate "
         "column beside the measured hours")
      ->check(finite_number(0, 1e18, true));
  return [opt]() -> int {
    // Before any work: the report directory must be new, empty or an earlier report's.
    check_may_write(opt->out, {"--out", OutputKind::directory, opt->force, is_report_directory});
    if (!opt->reproduction.empty()) {
      if (opt->references.empty())
        throw tinyfront::Error("--reproduction: needs the study's figures (--reference FILE)");
      check_may_write(opt->reproduction,
                      {"--reproduction", OutputKind::file, opt->force, is_reproduction_file});
    }
    // Reference files first: a mistake in one is reported before any results file is read.
    AnalysisOptions ao;
    {
      std::vector<SpecIssue> issues;
      for (auto& path : opt->references) {
        try {
          ao.references.push_back(load_reference(path));
        } catch (const SpecError& e) {
          issues.insert(issues.end(), e.issues().begin(), e.issues().end());
        }
      }
      if (!issues.empty()) throw SpecError(issues);
    }
    // --convention names a FLOP axis ("flops_kaplan") or the convention itself ("kaplan").
    bool convention_known = false;
    for (FlopConvention c : kFlopConventions)
      if (opt->convention == to_string(flops_axis(c)) || opt->convention == to_string(c))
        ao.main_convention = c, convention_known = true;
    if (!convention_known)
      throw tinyfront::Error(
          "--convention: expected flops_study, flops_kaplan or flops_exact, got " +
          opt->convention);
    std::vector<RunRecord> records;
    std::vector<ResultsFileSummary> files;
    for (auto& in : opt->inputs) {
      auto r = store_read_runs(in, WithCurves::yes);
      files.push_back(summarise_results_file(in, r));
      records.insert(records.end(), r.begin(), r.end());
    }
    ao.fit = !opt->no_fit;
    AnalysisReport rep = analyze_runs(records, ao);
    write_report(rep, opt->out);
    int plot_status = -1;
    if (!opt->no_plots) {
      // Plots are drawn by matplotlib; the report stands without them if Python is missing.
      std::optional<std::string> share = share_dir();
      std::string script = share ? *share + "/analysis/plot_report.py" : "";
      if (share && fs::exists(script)) {
        // Debian's matplotlib lives with /usr/bin/python3; a python3 earlier on PATH (pyenv,
        // a virtualenv) may lack it. TINYFRONT_PYTHON chooses explicitly.
        const char* env_python = std::getenv("TINYFRONT_PYTHON");
        std::string python = env_python                       ? env_python
                             : fs::exists("/usr/bin/python3") ? "/usr/bin/python3"
                                                              : "python3";
        // An argument vector, not a shell command line: --out is a path, never shell code.
        const std::vector<std::string> argv = {python, script, opt->out};
        plot_status = run_process(argv, opt->json ? ChildOutput::discard : ChildOutput::inherit,
                                  ChildOutput::inherit)
                          .code;
        if (plot_status != 0)
          std::fprintf(
              stderr, "warning: plotting failed (%s %s %s: exit %d); the tables are in %s\n",
              python.c_str(), script.c_str(), opt->out.c_str(), plot_status, opt->out.c_str());
      } else {
        std::fprintf(stderr,
                     "warning: no plots: analysis/plot_report.py not found (no share directory "
                     "beside the binary; set TINYFRONT_SHARE_DIR); the tables are in %s\n",
                     opt->out.c_str());
      }
    }
    if (!opt->reproduction.empty()) {
      ReproductionInputs in;
      in.files = files;
      in.plan_flops_per_second = opt->plan_flops_per_second;
      const fs::path where = fs::absolute(opt->reproduction).parent_path();
      in.plots_link = (fs::absolute(opt->out) / "plots")
                          .lexically_normal()
                          .lexically_relative(where.lexically_normal())
                          .generic_string();
      // The command that regenerates the file, as it was given (paths relative to where it ran).
      in.command = "tinyfront analyze";
      for (const auto& f : opt->inputs) in.command += " " + f;
      for (const auto& r : opt->references) in.command += " --reference " + r;
      in.command += " --out " + opt->out + " --reproduction " + opt->reproduction;
      if (opt->plan_flops_per_second > 0) {
        char rate[32];
        std::snprintf(rate, sizeof rate, "%g", opt->plan_flops_per_second);
        in.command += " --plan-flops-per-second " + std::string(rate);
      }
      write_file_atomically(opt->reproduction, reproduction_markdown(rep, in));
    }
    if (opt->json) {
      std::cout << nlohmann::json::parse(read_regular_file(opt->out + "/analysis.json", "")).dump()
                << "\n";
    } else {
      std::printf("analysed %zu runs in %.3f s (fits %.3f s): %s/report.md\n", records.size(),
                  rep.seconds_analysis, rep.seconds_fit, opt->out.c_str());
      for (const auto& ref : rep.references)
        std::printf(
            "%s: %lld within, %lld outside, %lld missing, %lld ambiguous of %zu figures "
            "(%s/reference.csv)\n",
            ref.path.c_str(), (long long)ref.within, (long long)ref.outside, (long long)ref.missing,
            (long long)ref.ambiguous, ref.rows.size(), opt->out.c_str());
    }
    return 0;
  };
}

}  // namespace tinyfront::cli
