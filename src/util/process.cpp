#include "tinyfront/util/process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tinyfront/util/error.hpp"

namespace tinyfront {

ProcessResult run_process(const std::vector<std::string>& argv, ChildOutput stdout_mode,
                          ChildOutput stderr_mode) {
  if (argv.empty()) throw Error("run_process: no program given");
  ProcessResult r;
  int pipes[2][2] = {{-1, -1}, {-1, -1}};
  const ChildOutput modes[2] = {stdout_mode, stderr_mode};
  for (int k = 0; k < 2; ++k)
    if (modes[k] == ChildOutput::capture && ::pipe2(pipes[k], O_CLOEXEC) != 0)
      throw Error("pipe: " + std::string(std::strerror(errno)));
  // Everything the child needs is prepared before fork: only async-signal-safe calls after it.
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) throw Error("fork: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    for (int k = 0; k < 2; ++k) {
      const int target = k + 1;  // 1: stdout, 2: stderr
      if (modes[k] == ChildOutput::capture) {
        ::dup2(pipes[k][1], target);
      } else if (modes[k] == ChildOutput::discard) {
        int null = ::open("/dev/null", O_WRONLY);
        if (null >= 0) ::dup2(null, target);
      }
    }
    ::execvp(args[0], args.data());
    const char* why = std::strerror(errno);
    (void)!::write(2, args[0], std::strlen(args[0]));
    (void)!::write(2, ": ", 2);
    (void)!::write(2, why, std::strlen(why));
    (void)!::write(2, "\n", 1);
    ::_exit(127);
  }
  for (int k = 0; k < 2; ++k)
    if (pipes[k][1] >= 0) ::close(pipes[k][1]);
  // Read both pipes without deadlocking on either.
  std::string* dst[2] = {&r.out, &r.err};
  std::array<char, 4096> buf;
  for (;;) {
    pollfd fds[2];
    int n = 0;
    int which[2];
    for (int k = 0; k < 2; ++k)
      if (pipes[k][0] >= 0) {
        fds[n] = {pipes[k][0], POLLIN, 0};
        which[n++] = k;
      }
    if (n == 0) break;
    if (::poll(fds, nfds_t(n), -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < n; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const int k = which[i];
      ssize_t got = ::read(pipes[k][0], buf.data(), buf.size());
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ::close(pipes[k][0]);
        pipes[k][0] = -1;
      } else {
        dst[k]->append(buf.data(), size_t(got));
      }
    }
  }
  for (int k = 0; k < 2; ++k)
    if (pipes[k][0] >= 0) ::close(pipes[k][0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

}  // namespace tinyfront
