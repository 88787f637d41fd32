// The /runs table of a results file (results_file.hpp) as CSV, and its column names.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace tinyfront {

// Writes the latest record of every run as CSV (RFC 4180 quoting), one row per run, with the
// /runs column names as header; floats in shortest round-trip form, nan/inf for non-finite.
void store_export_csv(const std::string& path, std::ostream& out);

// The /runs column names of this schema version, in order.
std::vector<std::string> store_columns();

}  // namespace tinyfront
