// Text forms shared by the report writers (report.md, the CSVs, REPRODUCTION.md): numbers,
// Markdown tables, confidence intervals, the published-figures tables. Internal to the analysis
// module.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "tinyfront/analysis/analysis.hpp"

namespace tinyfront::md {

// Numbers in CSV and JSON: enough digits to round-trip what matters (%.10g), NaN as "nan".
std::string num(double v);
std::string num(int64_t v);
std::string num(int v);
std::string num(uint64_t v);
std::string flag(bool b);  // "1" / "0"

// Short human forms for Markdown: 4 decimals (NLLs), 3 significant digits (counts, FLOPs).
std::string f4(double v);
std::string g3(double v);

void md_table(std::ostream& o, const std::vector<std::string>& header,
              const std::vector<std::vector<std::string>>& rows);

const char* short_convention(CostAxis c);  // "study", "kaplan", "exact", "params"

// "[lo, hi]" (f4, or g3 when wide), "" when there is no interval.
std::string interval(const Interval& i, bool wide = false);

// A figure of a reference table in the form its metric is read in.
std::string figure(double v, const std::string& metric);

// One section per reference file of the report: every published figure beside ours.
void write_reference_markdown(std::ostream& o, const AnalysisReport& rep);

}  // namespace tinyfront::md
