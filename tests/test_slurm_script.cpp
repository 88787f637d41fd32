// The slurm module without a cluster: time limits, quoting, template filling,
// the generated-script mark and sbatch's output and failures (with stand-in
// sbatch programs). The tests that submit to a real Slurm controller are in
// test_slurm.cpp.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "tinyfront/slurm/batch_script.hpp"
#include "tinyfront/slurm/sbatch.hpp"
#include "tinyfront/slurm/time_limit.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/util/process.hpp"

using namespace tinyfront;
using namespace tinyfront::slurm;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/tinyfront-slurm-script-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string write(const std::string& name, const std::string& text, bool executable = false) {
    std::string p = (path / name).string();
    std::ofstream(p) << text;
    if (executable) chmod(p.c_str(), 0755);
    return p;
  }
};

// The message of the SpecError (or Error) `f` throws, "" if it throws none.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SlurmScript, TimeLimitsInEverySlurmFormat) {
  EXPECT_EQ(parse_time("30"), 30 * 60);
  EXPECT_EQ(parse_time("10:30"), 10 * 60 + 30);
  EXPECT_EQ(parse_time("01:00:00"), 3600);
  EXPECT_EQ(parse_time("2-03"), 2 * 86400 + 3 * 3600);
  EXPECT_EQ(parse_time("2-03:04"), 2 * 86400 + 3 * 3600 + 4 * 60);
  EXPECT_EQ(parse_time("2-03:04:05"), 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
  EXPECT_EQ(parse_time("UNLIMITED"), -1);
  EXPECT_EQ(parse_time("infinite"), -1);
  for (const char* bad : {"", "abc", "1:2:3:4", "-5", "1h", "00:00"}) {
    std::string e = error_of([&] { parse_time(bad); });
    EXPECT_NE(e.find("--time"), std::string::npos) << "'" << bad << "': " << e;
  }
}

TEST(SlurmScript, SignalComesBeforeTheLimit) {
  EXPECT_EQ(signal_seconds(3600, 0), 300);  // default
  EXPECT_EQ(signal_seconds(-1, 0), 300);    // unlimited
  EXPECT_EQ(signal_seconds(600, 0), 150);   // a quarter of a short limit
  EXPECT_EQ(signal_seconds(200, 0), 60);    // ... at least a minute
  EXPECT_EQ(signal_seconds(3600, 900), 900);
  EXPECT_NE(error_of([] { signal_seconds(60, 0); }).find("--time"), std::string::npos);
  EXPECT_NE(error_of([] { signal_seconds(300, 300); }).find("--signal-seconds"), std::string::npos);
  EXPECT_NE(error_of([] { signal_seconds(-1, 70000); }).find("65535"), std::string::npos);
}

// Quoted words come back from a real shell exactly as they went in.
TEST(SlurmScript, ShellQuotingSurvivesBash) {
  EXPECT_EQ(shell_quote("plain/path-1.h5"), "plain/path-1.h5");
  EXPECT_EQ(shell_quote(""), "''");
  for (std::string v : {"a b", "it's", "$HOME", "`id`", "a;b", "*", "\"q\"", "back\\slash", ""}) {
    ProcessResult r = run_process({"bash", "-c", "printf '%s|' " + shell_quote(v)});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, v + "|") << shell_quote(v);
  }
  EXPECT_EQ(sbatch_quote("P", {"gpu", false, "-p"}), "gpu");
  EXPECT_EQ(sbatch_quote("P", {"a b", false, "-p"}), "\"a b\"");
  EXPECT_NE(error_of([] {
              sbatch_quote("P", {"a\"b", false, "-p/--partition"});
            }).find("-p/--partition"),
            std::string::npos);
}

TEST(SlurmScript, TemplateFillsQuotesAndCommentsOutEmptyLines) {
  const std::string tpl =
      "#!/bin/bash\n"
      "#SBATCH --job-name={{NAME}}\n"
      "#SBATCH --partition={{PARTITION}}\n"
      "# {{NAME}} is documented here, not filled\n"
      "srun tinyfront sweep {{SPEC}} {{ARGS}}\n";
  std::map<std::string, TemplateValue> values = {
      {"NAME", {"my sweep", false, "-J"}},
      {"PARTITION", {"", false, "-p"}},
      {"SPEC", {"/a dir/s.toml", false, "spec"}},
      {"ARGS", {"--set 'train.lr=1e-3'", true, "--set"}},
  };
  const std::string text = fill_template(tpl, values, "t.sbatch.in");
  EXPECT_EQ(text,
            "#!/bin/bash\n"
            "#SBATCH --job-name=\"my sweep\"\n"
            "##SBATCH --partition=   # (not set)\n"
            "# {{NAME}} is documented here, not filled\n"
            "srun tinyfront sweep '/a dir/s.toml' --set 'train.lr=1e-3'\n");
  EXPECT_NE(error_of([&] {
              fill_template("x {{NOPE}}\n", values, "t.sbatch.in");
            }).find("t.sbatch.in:1: unknown placeholder {{NOPE}}"),
            std::string::npos);
  values["NAME"].text = "a\nb";
  EXPECT_NE(error_of([&] { fill_template(tpl, values, "t.sbatch.in"); }).find("-J"),
            std::string::npos);
}

TEST(SlurmScript, GeneratedMarkTellsOurScriptsFromOthers) {
  TempDir dir;
  const std::string marked = mark_generated("#!/bin/bash\necho hi\n", "slurm/x.sbatch.in");
  EXPECT_EQ(marked,
            std::string("#!/bin/bash\n") + kGeneratedMark + " from slurm/x.sbatch.in\necho hi\n");
  EXPECT_TRUE(is_generated_script(dir.write("ours.sbatch", marked)));
  EXPECT_FALSE(is_generated_script(dir.write("theirs.sbatch", "#!/bin/bash\necho mine\n")));
  EXPECT_FALSE(is_generated_script((dir.path / "missing.sbatch").string()));
  EXPECT_FALSE(is_generated_script(dir.path.string()));  // a directory
}

TEST(SlurmScript, JobIdFromSbatchOutput) {
  EXPECT_EQ(parse_job_id("12345\n"), "12345");
  EXPECT_EQ(parse_job_id("12345;cluster\n\n"), "12345");
  EXPECT_EQ(parse_job_id("note\n678\n"), "678");
  EXPECT_THROW(parse_job_id(""), Error);
  EXPECT_THROW(parse_job_id("Submitted batch job 5\n"), Error);
  EXPECT_EQ(sbatch_argv({"--account=abc"}, "/x/s.sbatch"),
            (std::vector<std::string>{"sbatch", "--parsable", "--account=abc", "/x/s.sbatch"}));
}

// submit() runs the program it is given as an argument vector: stand-ins for
// sbatch that succeed, fail, or do not exist.
TEST(SlurmScript, SubmitRunsSbatchAndReportsItsFailures) {
  TempDir dir;
  const std::string args = (dir.path / "args").string();
  const std::string ok = dir.write("sbatch-ok",
                                   "#!/bin/sh\nprintf '%s\\n' \"$@\" > '" + args +
                                       "'\necho 'sbatch: warning: x' >&2\n"
                                       "echo '4242;cluster'\n",
                                   true);
  Submitted s = submit({ok, "--parsable", "a b.sbatch"}, "a b.sbatch");
  EXPECT_EQ(s.job_id, "4242");
  EXPECT_EQ(s.warnings, "sbatch: warning: x");
  std::ifstream in(args);
  std::string line1, line2;
  std::getline(in, line1);
  std::getline(in, line2);
  EXPECT_EQ(line1, "--parsable");
  EXPECT_EQ(line2, "a b.sbatch");  // one argument, no shell splitting
  const std::string bad = dir.write(
      "sbatch-bad", "#!/bin/sh\necho 'sbatch: error: invalid partition' >&2\nexit 1\n", true);
  std::string e = error_of([&] { submit({bad, "s.sbatch"}, "s.sbatch"); });
  EXPECT_NE(e.find("sbatch failed (exit 1): sbatch: error: invalid partition"), std::string::npos)
      << e;
  EXPECT_NE(e.find("batch script: s.sbatch"), std::string::npos) << e;
  e = error_of([&] { submit({(dir.path / "no-such-sbatch").string(), "s"}, "s"); });
  EXPECT_NE(e.find("sbatch not found"), std::string::npos) << e;
  const std::string silent = dir.write("sbatch-silent", "#!/bin/sh\nexit 0\n", true);
  EXPECT_NE(error_of([&] { submit({silent}, "s"); }).find("no job id"), std::string::npos);
}
