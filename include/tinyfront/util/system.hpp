// Facts about where and when this process runs, as results and progress files record them.
#pragma once

#include <string>

namespace tinyfront {

std::string host_name();  // gethostname(), or "unknown"
double unix_now();        // wall-clock seconds since the epoch

// The running binary's absolute path (/proc/self/exe). Throws tinyfront::Error if unreadable.
std::string executable_path();

}  // namespace tinyfront
