// One row of a results file: which run (id + resolved config), what it produced, and where.
#pragma once

#include <string>

#include "tinyfront/run/config.hpp"
#include "tinyfront/run/result.hpp"

namespace tinyfront {

struct RunRecord {
  std::string run_id;  // run_id(config)
  RunConfig config;
  TrainResult result;  // result.status is the run's status
  int rank = -1;       // MPI rank that ran it
  std::string host;
  double started_at = 0;   // unix seconds
  double finished_at = 0;  // unix seconds
};

}  // namespace tinyfront
