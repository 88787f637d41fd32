// Every exit code of the tinyfront command line, in one place (docs/scheduling.md and
// docs/slurm.md describe them; Slurm batch scripts act on kExitInterrupted).
#pragma once

namespace tinyfront::cli {

inline constexpr int kExitOk = 0;
// An error (a file that cannot be read or written, a run that failed or diverged in a sweep or
// `train`, a lost standard output).
inline constexpr int kExitFailed = 1;
// Bad input found before any work: a spec or an option (SpecError), an unknown subcommand. Nothing
// was computed, written or submitted.
inline constexpr int kExitBadInput = 2;
// `plan`: the sweep would exceed a limit of its spec (max_total_flops, max_run_flops, max_hours).
inline constexpr int kExitLimitExceeded = 3;
// A sweep stopped by SIGTERM/SIGUSR1 after checkpointing its running runs: it resumes where it
// stopped (the Slurm templates requeue on it). 75 is EX_TEMPFAIL: "try again later".
inline constexpr int kExitInterrupted = 75;

}  // namespace tinyfront::cli
