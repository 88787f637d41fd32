#include "tinyfront/util/system.hpp"

#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "tinyfront/util/error.hpp"

namespace tinyfront {

std::string host_name() {
  char buf[256] = {};
  if (gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string executable_path() {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) throw Error("cannot find the tinyfront binary (/proc/self/exe): " + ec.message());
  return p.string();
}

}  // namespace tinyfront
