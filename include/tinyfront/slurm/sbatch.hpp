// Submitting a batch script: `sbatch --parsable [extra arguments] script`,
// started from an argument vector (util/process.hpp), never through a shell.
#pragma once

#include <string>
#include <vector>

namespace tinyfront::slurm {

// The sbatch command line for a script.
std::vector<std::string> sbatch_argv(const std::vector<std::string>& extra_args,
                                     const std::string& script);

// The job id in the output of `sbatch --parsable` ("jobid" or "jobid;cluster"
// on its last non-blank line). Throws Error if there is none.
std::string parse_job_id(const std::string& sbatch_stdout);

struct Submitted {
  std::string job_id;
  std::string warnings;  // what sbatch printed on stderr while succeeding
};

// Runs argv (from sbatch_argv) and returns the job id. Throws Error: sbatch not
// found (exit 127), sbatch failed (its exit code and message, and the script),
// or no job id printed.
Submitted submit(const std::vector<std::string>& argv, const std::string& script);

}  // namespace tinyfront::slurm
