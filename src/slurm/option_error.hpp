// A bad value of a `tinyfront submit` option, reported like a spec problem
// (exit code 2, nothing written or submitted). Private to the slurm module.
#pragma once

#include <string>

#include "tinyfront/util/error.hpp"

namespace tinyfront::slurm {

inline SpecError option_error(const std::string& option, const std::string& reason) {
  return SpecError({{"<command line>", 0, 0, option, reason}});
}

}  // namespace tinyfront::slurm
