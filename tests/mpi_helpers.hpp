// Running the tinyfront binary under mpiexec from a test, and temporary directories.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace tinyfront::testing_support {

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Shell prefix for every command a test runs: Open MPI may run as root and oversubscribe (the
// test machine has 2 cores). The same settings as scripts/env.sh.
inline const std::string kMpiEnv =
    "export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "
    "OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl=self,vader,tcp "
    "OMPI_MCA_btl_vader_single_copy_mechanism=none; ";

// Runs a shell command, capturing its output.
inline CommandResult run_command(const std::string& cmd) {
  std::string full = kMpiEnv + cmd + " 2>&1";
  CommandResult r;
  FILE* p = popen(full.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

inline std::string mpiexec(int ranks, const std::string& args) {
  return "mpiexec -n " + std::to_string(ranks) + " --oversubscribe " + TINYFRONT_BINARY + " " +
         args;
}

// A fresh directory under the system temp dir, removed at destruction.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& name) {
    path = std::filesystem::temp_directory_path() /
           ("tinyfront_" + name + "_" + std::to_string(getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name, const std::string& text = "") const {
    std::string p = (path / name).string();
    if (!text.empty()) std::ofstream(p) << text;
    return p;
  }
};

inline std::string shakespeare_path() {
  return std::string(TINYFRONT_SOURCE_DIR) + "/data/tinyshakespeare.txt";
}

}  // namespace tinyfront::testing_support

#include <signal.h>

#include <chrono>
#include <thread>

namespace tinyfront::testing_support {

// A command started in its own process group (so the whole mpirun job can be signalled or
// killed at once), with its output going to a file.
struct Background {
  pid_t pid = -1;
  std::string log;

  Background(const std::string& cmd, const std::string& log_path) : log(log_path) {
    pid = fork();
    if (pid == 0) {
      setpgid(0, 0);
      std::string full = kMpiEnv + "exec " + cmd + " > " + log_path + " 2>&1";
      execl("/bin/sh", "sh", "-c", full.c_str(), (char*)nullptr);
      _exit(127);
    }
    setpgid(pid, pid);
  }
  void signal_group(int sig) const { kill(-pid, sig); }
  void signal_leader(int sig) const { kill(pid, sig); }
  // Waits for the exit; returns the exit code (128 + signal if killed).
  int wait() {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  std::string output() const {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

inline void sleep_seconds(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

}  // namespace tinyfront::testing_support
