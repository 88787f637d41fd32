#include "tinyfront/slurm/time_limit.hpp"

#include <algorithm>
#include <regex>

#include "option_error.hpp"

namespace tinyfront::slurm {

long parse_time(const std::string& t) {
  if (t == "UNLIMITED" || t == "INFINITE" || t == "unlimited" || t == "infinite") return -1;
  static const std::regex re(R"(^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$)");
  std::smatch m;
  if (!std::regex_match(t, m, re))
    throw option_error("--time",
                       "expected minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS, "
                       "got '" +
                           t + "'");
  auto num = [&](int i) { return m[i].matched ? std::stol(m[i].str()) : 0L; };
  long secs;
  if (m[1].matched) {  // days-hours[:minutes[:seconds]]
    secs = num(1) * 86400 + num(2) * 3600 + num(3) * 60 + num(4);
  } else if (m[4].matched) {  // hours:minutes:seconds
    secs = num(2) * 3600 + num(3) * 60 + num(4);
  } else if (m[3].matched) {  // minutes:seconds
    secs = num(2) * 60 + num(3);
  } else {  // minutes
    secs = num(2) * 60;
  }
  if (secs <= 0) throw option_error("--time", "must be positive, got '" + t + "'");
  return secs;
}

int signal_seconds(long limit, int requested) {
  int s = requested;
  if (s <= 0) {
    if (limit < 0)
      s = 300;
    else if (limit <= 60)
      throw option_error("--time", "a time limit of " + std::to_string(limit) +
                                       " s leaves no time to checkpoint: give --signal-seconds "
                                       "or a longer --time");
    else
      s = int(std::min<long>(300, std::max<long>(60, limit / 4)));
  }
  if (limit >= 0 && s >= limit)
    throw option_error("--signal-seconds", std::to_string(s) +
                                               " s is not shorter than the time "
                                               "limit (" +
                                               std::to_string(limit) + " s)");
  if (s > 65535) throw option_error("--signal-seconds", "at most 65535 (a Slurm limit)");
  return s;
}

}  // namespace tinyfront::slurm
