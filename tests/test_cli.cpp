// The command line: help, version, errors, JSON output, one real training run end to end.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "mpi_helpers.hpp"
#include "tinyfront/store/weights.hpp"

using namespace tinyfront;
using namespace tinyfront::testing_support;

namespace {
std::string tf(const std::string& args) {
  return std::string(TINYFRONT_BINARY) + " " + args;
}
}  // namespace

TEST(Cli, HelpAndVersion) {
  CommandResult h = run_command(tf("--help"));
  EXPECT_EQ(h.exit_code, 0);
  for (const char* sub :
       {"train", "plan", "sweep", "status", "merge", "analyze", "bench", "export", "sample"})
    EXPECT_NE(h.output.find(sub), std::string::npos) << sub << "\n" << h.output;
  CommandResult v = run_command(tf("--version"));
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(v.output.rfind("tinyfront ", 0), 0u) << v.output;
  CommandResult th = run_command(tf("train --help"));
  EXPECT_EQ(th.exit_code, 0);
  EXPECT_NE(th.output.find("--set"), std::string::npos);
}

TEST(Cli, UnknownOptionAndMissingSubcommandFail) {
  CommandResult u = run_command(tf("train jobs/linear.toml --bogus"));
  EXPECT_NE(u.exit_code, 0);
  EXPECT_NE(u.output.find("--bogus"), std::string::npos) << u.output;
  EXPECT_NE(run_command(tf("")).exit_code, 0);
  EXPECT_NE(run_command(tf("frobnicate")).exit_code, 0);
}

TEST(Cli, BadSpecIsOneClearLineBeforeAnyTraining) {
  TempDir dir("cli");
  std::string spec =
      dir.file("bad.toml", "[model]\narch = \"linear\"\nheads = \"four\"\n[data]\npath = \"" +
                               std::string(TINYFRONT_SOURCE_DIR) + "/data/tinyshakespeare.txt\"\n");
  CommandResult r = run_command(tf("train " + spec));
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_EQ(r.output, "error: " + spec + ":3:9: model.heads: expected an integer, got a string\n");
  CommandResult missing = run_command(tf("train " + dir.file("nope.toml")));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("nope.toml: no such file"), std::string::npos) << missing.output;
}

TEST(Cli, TrainJsonSaveWeightsAndSample) {
  TempDir dir("clitrain");
  std::string w = dir.file("w.h5");
  CommandResult r = run_command(
      tf("train " + std::string(TINYFRONT_SOURCE_DIR) +
         "/jobs/linear.toml --json --quiet --set train.epochs=1 --set train.windows_per_epoch=2000 "
         "--save-weights " +
         w));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["status"], "done");
  EXPECT_GT(j["test_nll"].get<double>(), 0.5);
  EXPECT_EQ(j["config"]["train"]["windows_per_epoch"], 2000);
  EXPECT_DOUBLE_EQ(j["flops_study"].get<double>(),
                   2.0 * j["params"].get<double>() * j["train_tokens"].get<double>());
  Weights weights = read_weights(w);
  EXPECT_EQ(weights.vocab.size(), 65);
  EXPECT_EQ(int64_t(weights.params.size()), j["params"].get<int64_t>());
  CommandResult s = run_command(tf("sample " + w + " --prompt ROMEO: --tokens 40 --seed 3"));
  ASSERT_EQ(s.exit_code, 0) << s.output;
  EXPECT_EQ(s.output.rfind("ROMEO:", 0), 0u);
  EXPECT_EQ(s.output.size(), std::string("ROMEO:").size() + 40 + 1);
  // Same seed, same text.
  EXPECT_EQ(run_command(tf("sample " + w + " --prompt ROMEO: --tokens 40 --seed 3")).output,
            s.output);
  CommandResult bad = run_command(tf("sample " + dir.file("junk.h5", "not hdf5")));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("not an HDF5 weights file"), std::string::npos) << bad.output;
}

TEST(Cli, PlanReportsCostsAndEnforcesLimits) {
  std::string quick = std::string(TINYFRONT_SOURCE_DIR) + "/sweeps/quick.toml";
  CommandResult r = run_command(tf("plan " + quick + " --json --flops-per-second 1e10"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["runs"], 16);
  EXPECT_GT(j["total_flops"]["study"].get<double>(), 0);
  EXPECT_EQ(j["by_arch"].size(), 4u);
  CommandResult over =
      run_command(tf("plan " + quick + " --flops-per-second 1e10 --set sweep.max_total_flops=1e9"));
  EXPECT_EQ(over.exit_code, 3) << over.output;
  EXPECT_NE(over.output.find("LIMIT EXCEEDED: total study FLOPs"), std::string::npos)
      << over.output;
  // The sweep itself refuses to start, with the numbers, and creates no file.
  TempDir dir("limits");
  CommandResult sw = run_command(mpiexec(
      2, "sweep " + quick + " --out " + dir.file("r.h5") + " --set sweep.max_total_flops=1e9"));
  EXPECT_NE(sw.exit_code, 0);
  EXPECT_NE(sw.output.find("exceed sweep.max_total_flops 1e+09"), std::string::npos) << sw.output;
  EXPECT_FALSE(std::filesystem::exists(dir.file("r.h5")));
}
