// Where tinyfront's shipped files are: the Slurm templates (slurm/), the analysis scripts
// (analysis/), the example specs (sweeps/, jobs/) and Tiny Shakespeare (data/). They are found
// relative to the running binary, never by a path compiled in, so that a build tree, an
// installed tree and a copied install all work. The first of these that is a directory:
//   1. $TINYFRONT_SHARE_DIR                (an explicit choice; if set, it must exist)
//   2. <binary dir>/../share/tinyfront     (installed: <prefix>/bin/tinyfront; also the tests
//                                           in build/tests/ of a build tree)
//   3. <binary dir>/share/tinyfront        (build tree: build/tinyfront; CMake links these
//                                           directories to the source tree at configure time)
#pragma once

#include <optional>
#include <string>

namespace tinyfront {

// The share directory (canonical path), or nullopt if there is none. Throws tinyfront::Error if
// TINYFRONT_SHARE_DIR names something that is not a directory.
std::optional<std::string> share_dir();

// share_dir()/relative. Throws tinyfront::Error naming where it looked if the file is missing.
std::string share_file(const std::string& relative);

}  // namespace tinyfront
