// tinyfront bench: training throughput of the study's models against this machine's GEMM peak.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tinyfront/bench/bench.hpp"
#include "tinyfront/cli/checks.hpp"
#include "tinyfront/cli/commands.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"

namespace tinyfront::cli {

namespace {
struct BenchCliOptions {
  std::string threads = "1,2";
  std::string models;
  std::string model_set = "default";
  std::string json_out;
  bool json = false;
  bool quick = false;
  double seconds = 1.5;
};

// A JSON report an earlier `bench --json-out` wrote (it names tinyfront's version and the runs).
bool is_bench_report(const std::string& path) {
  try {
    auto j = nlohmann::json::parse(read_regular_file(path, ""));
    return j.is_object() && j.contains("tinyfront_version") && j.contains("runs");
  } catch (const std::exception&) {
    return false;
  }
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}
}  // namespace

Command add_bench(CLI::App& app) {
  auto opt = std::make_shared<BenchCliOptions>();
  CLI::App* sub = app.add_subcommand(
      "bench", "Time training steps of the study's models against this machine's GEMM peak");
  sub->add_option("--threads", opt->threads, "Thread counts to measure, comma separated")
      ->capture_default_str();
  sub->add_option("--model-set", opt->model_set,
                  "default (the study's models and transformer_gelu), blocks (the causal L=3 block "
                  "from GELU/pre-LN/FF 512/dropout 0.1 to the study's, one setting at a time) or "
                  "all")
      ->capture_default_str();
  sub->add_option("--models", opt->models,
                  "Models of the set to run, comma separated (default: the whole set)");
  sub->add_option("--seconds", opt->seconds, "Timed seconds per model and thread count")
      ->capture_default_str()
      ->check(finite_number(0, 86400, true));
  sub->add_flag("--quick", opt->quick, "A few steps per model (a second or two; for CI)");
  sub->add_flag("--json", opt->json,
                "Print the report as JSON on stdout (the table goes to stderr)");
  sub->add_option("--json-out", opt->json_out, "Also write the JSON report to this file");
  return [opt]() -> int {
    BenchOptions b;
    b.quick = opt->quick;
    b.seconds = opt->seconds;
    b.threads.clear();
    for (const std::string& t : split_commas(opt->threads)) {
      int n = 0;
      try {
        n = std::stoi(t);
      } catch (const std::exception&) {
      }
      if (n < 1) throw Error("--threads: '" + t + "' is not a positive thread count");
      b.threads.push_back(n);
    }
    if (b.threads.empty()) throw Error("--threads: no thread count given");
    b.model_set = opt->model_set;
    const std::vector<BenchModel> set = bench_model_set(b.model_set);
    b.models = split_commas(opt->models);
    for (const std::string& name : b.models) {
      bool known = false;
      for (const BenchModel& bm : set) known = known || bm.name == name;
      if (known) continue;
      std::string names;
      for (const BenchModel& bm : set) names += (names.empty() ? "" : ", ") + bm.name;
      throw Error("--models: unknown model '" + name + "' (the set '" + b.model_set + "' has " +
                  names + "; --model-set all has every model)");
    }
    // Before the measurement: --json-out may replace only an earlier bench report.
    if (!opt->json_out.empty())
      check_may_write(opt->json_out, {"--json-out", OutputKind::file, false, is_bench_report});
    BenchReport r = run_bench(b, /*progress=*/!opt->json);
    const std::string text = bench_to_json(r).dump(2);
    if (!opt->json_out.empty()) write_file_atomically(opt->json_out, text + "\n");
    if (opt->json) {
      std::fputs(bench_table(r).c_str(), stderr);
      std::cout << text << "\n";
    } else {
      std::fputs(bench_table(r).c_str(), stdout);
    }
    return 0;
  };
}

}  // namespace tinyfront::cli
