// tinyfront: a thin command line over the library. Each subcommand lives in its own file.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>

#include "tinyfront/cli/commands.hpp"
#include "tinyfront/cli/exit_codes.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/version.hpp"

// Output to stdout is buffered: a full disk or /dev/full shows only when it is flushed. A command
// whose output was lost has failed, whatever it returned.
static int finish_stdout(int code) {
  errno = 0;
  std::cout.flush();  // flushes stdout's buffer: the first failure sets errno
  if (std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout) {
    const int err = errno;
    std::fprintf(stderr, "error: cannot write to standard output%s%s\n", err ? ": " : "",
                 err ? std::strerror(err) : "");
    return code != tinyfront::cli::kExitOk ? code : tinyfront::cli::kExitFailed;
  }
  return code;
}

int main(int argc, char** argv) {
  using namespace tinyfront;
  CLI::App app{"tinyfront: grid searches of small language models and their compute frontier"};
  app.set_version_flag("--version", std::string("tinyfront ") + TINYFRONT_VERSION + " (" +
                                        TINYFRONT_GIT_COMMIT + ")");
  app.require_subcommand(1);
  std::map<std::string, cli::Command> commands;
  commands["train"] = cli::add_train(app);
  commands["sample"] = cli::add_sample(app);
  commands["plan"] = cli::add_plan(app);
  commands["sweep"] = cli::add_sweep(app);
  commands["bench"] = cli::add_bench(app);
  commands["status"] = cli::add_status(app);
  commands["merge"] = cli::add_merge(app);
  commands["export"] = cli::add_export(app);
  commands["submit"] = cli::add_submit(app);
  commands["analyze"] = cli::add_analyze(app);
  commands["model-master"] = cli::add_model_master(app);
  // CLI11 reports an unknown subcommand as "A subcommand is required": name it instead.
  if (argc > 1 && argv[1][0] != '-' && !commands.count(argv[1])) {
    std::string known;
    for (auto& [name, command] : commands) known += (known.empty() ? "" : ", ") + name;
    std::fprintf(stderr, "error: unknown subcommand '%s' (expected one of: %s)\n", argv[1],
                 known.c_str());
    return cli::kExitBadInput;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  int code = cli::kExitFailed;
  try {
    for (auto* sub : app.get_subcommands())
      if (commands.count(sub->get_name())) code = commands[sub->get_name()]();
  } catch (const SpecError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    code = cli::kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    code = cli::kExitFailed;
  }
  return finish_stdout(code);
}
