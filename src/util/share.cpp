#include "tinyfront/util/share.hpp"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "tinyfront/util/error.hpp"
#include "tinyfront/util/system.hpp"

namespace fs = std::filesystem;

namespace tinyfront {

namespace {

// The directories share_dir() tries, in order.
std::vector<fs::path> share_candidates() {
  if (const char* env = std::getenv("TINYFRONT_SHARE_DIR"); env && *env) return {fs::path(env)};
  const fs::path bin_dir = fs::path(executable_path()).parent_path();
  return {bin_dir.parent_path() / "share" / "tinyfront", bin_dir / "share" / "tinyfront"};
}

}  // namespace

std::optional<std::string> share_dir() {
  const char* env = std::getenv("TINYFRONT_SHARE_DIR");
  for (const fs::path& dir : share_candidates()) {
    std::error_code ec;
    if (fs::is_directory(dir, ec)) return fs::canonical(dir).string();
  }
  if (env && *env)
    throw Error(std::string("TINYFRONT_SHARE_DIR=") + env +
                ": not a directory (it should hold tinyfront's slurm/, analysis/ and data/)");
  return std::nullopt;
}

std::string share_file(const std::string& relative) {
  std::optional<std::string> dir = share_dir();
  if (dir && fs::exists(fs::path(*dir) / relative))
    return fs::canonical(fs::path(*dir) / relative).string();
  std::string looked;
  for (const fs::path& d : share_candidates())
    looked += (looked.empty() ? "" : ", ") + (d / relative).string();
  throw Error("cannot find tinyfront's " + relative + " (looked in " + looked +
              "; set TINYFRONT_SHARE_DIR to the directory holding slurm/, analysis/ and data/)");
}

}  // namespace tinyfront
