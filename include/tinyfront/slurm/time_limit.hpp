// Slurm time limits: the text of sbatch's --time, and when to warn a job before
// it runs out.
#pragma once

#include <string>

namespace tinyfront::slurm {

// Seconds of a Slurm time limit: "M", "M:S", "H:M:S", "D-H", "D-H:M",
// "D-H:M:S"; -1 for UNLIMITED/INFINITE. Throws SpecError naming --time on
// anything else or on zero.
long parse_time(const std::string& text);

// Seconds before the time limit at which the job gets SIGUSR1 to checkpoint:
// `requested` when given (> 0), else 300, or a quarter of a short limit (at
// least 60). Throws SpecError (naming
// --time or --signal-seconds) when the warning would not come before the limit
// or exceeds Slurm's 65535.
int signal_seconds(long limit_seconds, int requested);

}  // namespace tinyfront::slurm
