// Child processes (sbatch, the plotting script): always started from an argument vector
// (fork + execvp), never through a shell, so that no argument (a path, an option value) can ever
// be read as shell code.
#pragma once

#include <string>
#include <vector>

namespace tinyfront {

enum class ChildOutput { inherit, capture, discard };

struct ProcessResult {
  int code = -1;         // exit code; 128 + signal number if killed; 127 if it could not start
  std::string out, err;  // captured stdout / stderr (when asked for)
};

// Runs argv[0] (looked up in PATH when it has no '/') with arguments argv[1..] and waits for it.
// Throws tinyfront::Error if no process can be created (pipe/fork failure).
ProcessResult run_process(const std::vector<std::string>& argv,
                          ChildOutput stdout_mode = ChildOutput::capture,
                          ChildOutput stderr_mode = ChildOutput::capture);

}  // namespace tinyfront
