#include "tinyfront/slurm/sbatch.hpp"

#include <sstream>

#include "tinyfront/util/error.hpp"
#include "tinyfront/util/process.hpp"

namespace tinyfront::slurm {

namespace {
std::string trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}
}  // namespace

std::vector<std::string> sbatch_argv(const std::vector<std::string>& extra_args,
                                     const std::string& script) {
  std::vector<std::string> argv = {"sbatch", "--parsable"};
  for (auto& a : extra_args) argv.push_back(a);
  argv.push_back(script);
  return argv;
}

std::string parse_job_id(const std::string& out) {
  std::istringstream lines(out);
  std::string job_id, l;
  while (std::getline(lines, l))
    if (!trim(l).empty()) job_id = trim(l).substr(0, trim(l).find(';'));
  if (job_id.empty() || job_id.find_first_not_of("0123456789") != std::string::npos)
    throw Error("sbatch printed no job id: '" + trim(out) + "'");
  return job_id;
}

Submitted submit(const std::vector<std::string>& argv, const std::string& script) {
  ProcessResult c = run_process(argv);
  if (c.code == 127)
    throw Error("sbatch not found (is Slurm installed and in PATH?): " + trim(c.err));
  if (c.code != 0)
    throw Error("sbatch failed (exit " + std::to_string(c.code) + "): " + trim(c.err + c.out) +
                "\n  batch script: " + script);
  return {parse_job_id(c.out), trim(c.err)};
}

}  // namespace tinyfront::slurm
