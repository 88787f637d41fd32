// `tinyfront bench --quick`: the binary runs every model at 1 and 2 threads and writes a JSON
// report with positive figures. No timing is asserted (the machine may be busy); what is checked
// is that everything is measured, consistently with the FLOP model, and that memory stays flat.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "tinyfront/bench/bench.hpp"
#include "tinyfront/model/flops.hpp"
#include "tinyfront/util/error.hpp"

using namespace tinyfront;

namespace {

nlohmann::json run_quick_bench(const std::string& extra = "") {
  const std::filesystem::path out =
      std::filesystem::temp_directory_path() /
      ("tinyfront_bench_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
       "_" + std::to_string(std::rand()) + ".json");
  const std::string cmd = std::string(TINYFRONT_BINARY) +
                          " bench --quick --threads 1,2 --json-out " + out.string() + extra +
                          " > /dev/null 2>&1";
  const int rc = std::system(cmd.c_str());
  EXPECT_EQ(rc, 0) << cmd;
  std::ifstream f(out);
  EXPECT_TRUE(f.good()) << "no report at " << out;
  nlohmann::json j = nlohmann::json::parse(f, nullptr, /*allow_exceptions=*/false);
  std::filesystem::remove(out);
  return j;
}

}  // namespace

TEST(Bench, QuickReportHasEveryModelWithPositiveFigures) {
  nlohmann::json j = run_quick_bench();
  ASSERT_TRUE(j.is_object()) << "the report is not JSON";
  EXPECT_TRUE(j["quick"].get<bool>());
  EXPECT_GT(j["peak_rss_bytes"].get<double>(), 0);
  ASSERT_EQ(j["runs"].size(), 2u);
  std::set<std::string> expected;
  for (const BenchModel& bm : bench_models()) expected.insert(bm.name);
  EXPECT_EQ(expected.size(), 7u);
  int threads_seen = 0;
  for (const auto& run : j["runs"]) {
    const int threads = run["threads"].get<int>();
    threads_seen += threads;
    EXPECT_GT(run["gemm_peak_gflops"].get<double>(), 0) << threads;
    EXPECT_GE(run["gemm"].size(), 5u);
    for (const auto& g : run["gemm"]) EXPECT_GT(g["gflops"].get<double>(), 0) << g["name"];
    std::set<std::string> seen;
    for (const auto& m : run["models"]) {
      const std::string name = m["name"];
      seen.insert(name);
      SCOPED_TRACE(name + " at " + std::to_string(threads) + " threads");
      for (const char* key : {"tokens_per_second", "ms_per_step", "cpu_ms_per_step",
                              "flops_per_step", "gflops", "fraction_of_peak", "loss"})
        EXPECT_GT(m[key].get<double>(), 0) << key;
      EXPECT_GE(m["steps"].get<int>(), 2);
      EXPECT_GT(m["params"].get<int64_t>(), 0);
      // Activations are allocated once per run: nothing is kept from step to step.
      EXPECT_TRUE(m["memory_stable"].get<bool>())
          << "resident set " << m["rss_after_warmup_bytes"] << " -> " << m["rss_after_bytes"];
      // tokens/s is batch x T over the step time, and the FLOPs are the exact model's.
      const auto& c = m["config"];
      const double tokens = c["batch"].get<double>() * c["context"].get<double>();
      EXPECT_NEAR(m["tokens_per_second"].get<double>() * m["ms_per_step"].get<double>() / 1e3,
                  tokens, 1e-6 * tokens);
    }
    EXPECT_EQ(seen, expected);
  }
  EXPECT_EQ(threads_seen, 3);
  EXPECT_TRUE(j["memory_stable"].get<bool>());
  ASSERT_TRUE(j.contains("scaling_vs_threads_1"));
  for (const auto& name : expected)
    EXPECT_GT(j["scaling_vs_threads_1"][name]["2"].get<double>(), 0);
}

TEST(Bench, ModelsAreTheStudysConfigurations) {
  for (const BenchModel& bm : bench_models()) {
    SCOPED_TRACE(bm.name);
    const ModelConfig& c = bm.cfg;
    EXPECT_EQ(c.d_model, 128);
    if (bm.name == "transformer_word") {
      EXPECT_EQ(c.vocab, 9999);
      EXPECT_EQ(c.context, 64);
      EXPECT_EQ(bm.batch, 32);
      EXPECT_EQ(bm.protocol, Protocol::causal);
    } else {
      EXPECT_EQ(c.vocab, 65);
      EXPECT_EQ(c.context, 128);
      EXPECT_EQ(bm.batch, 64);
    }
    if (c.arch == Arch::transformer) {
      EXPECT_EQ(c.layers, 3);
    }
    if (c.is_attention_family()) {
      EXPECT_EQ(c.heads, 4);
    }
    EXPECT_GT(exact_flops_per_window(c, bm.protocol), 0);
  }
}

TEST(Bench, UnknownModelIsAnError) {
  const std::string cmd =
      std::string(TINYFRONT_BINARY) + " bench --quick --models nosuchmodel > /dev/null 2>&1";
  EXPECT_NE(std::system(cmd.c_str()), 0);
}

TEST(Bench, BlockVariantsWalkFromTheGeluBlockToTheStudys) {
  const std::vector<BenchModel> v = bench_block_variants();
  ASSERT_GE(v.size(), 5u);
  const ModelConfig& first = v.front().cfg;
  EXPECT_EQ(first.activation, Activation::gelu);
  EXPECT_EQ(first.norm, Norm::pre);
  EXPECT_EQ(first.ff, 512);
  EXPECT_EQ(first.dropout, 0.1);
  const ModelConfig& last = v.back().cfg;
  EXPECT_EQ(last.activation, Activation::relu);
  EXPECT_EQ(last.norm, Norm::post);
  EXPECT_EQ(last.ff, 256);
  EXPECT_EQ(last.dropout, 0.0);
  std::set<std::string> names;
  for (const BenchModel& bm : v) {
    names.insert(bm.name);
    EXPECT_EQ(bm.protocol, Protocol::causal);
    EXPECT_EQ(bm.cfg.layers, 3);
  }
  EXPECT_EQ(names.size(), v.size());
  EXPECT_EQ(bench_model_set("all").size(), bench_models().size() + v.size());
  EXPECT_THROW(bench_model_set("nosuchset"), Error);
}
