// Tables and JSON summaries the CLI prints about a set of runs.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <vector>

#include "tinyfront/mpi/scheduler.hpp"
#include "tinyfront/run/record.hpp"

namespace tinyfront::cli {

// One line per model (runs grouped by dataset, protocol and model section; the best test NLL
// over learning rates, seeds and budgets), sorted by FLOPs, frontier models marked with '*'.
void print_results_table(std::ostream& out, const std::vector<RunRecord>& records);

nlohmann::ordered_json summary_json(const std::vector<RunRecord>& records,
                                    const SweepOutcome& outcome);

}  // namespace tinyfront::cli
