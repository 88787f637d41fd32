// What analyze_runs passes between the builders of its tables (analyze.cpp and the
// analyze_*.cpp files beside it): the usable rows as integer-coded columns, and small helpers.
// Internal to the analysis module.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "tinyfront/analysis/analysis.hpp"
#include "tinyfront/analysis/frontier.hpp"
#include "tinyfront/analysis/grouping.hpp"

namespace tinyfront::analysis_table {

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

inline std::string fmt(double v, int precision = 4) {
  std::ostringstream s;
  s.precision(precision);
  s << v;
  return s.str();
}

inline std::string fixed3(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", v);
  return buf;
}

// Index of each distinct string, in order of first appearance.
struct Interner {
  std::unordered_map<std::string, int> index;
  std::vector<std::string> names;
  int code(const std::string& s) {
    auto [it, inserted] = index.emplace(s, int(names.size()));
    if (inserted) names.push_back(s);
    return it->second;
  }
};

// The log10 bucket a cost falls in, or INT64_MIN for costs that are not positive and finite.
inline int64_t bucket_of(double cost, double per_decade) {
  if (!(cost > 0) || !std::isfinite(cost)) return INT64_MIN;
  return int64_t(std::floor(std::log10(cost) * per_decade + 1e-9));
}

// Running mean / min / max / variance of NLLs.
struct Stats {
  int64_t n = 0;
  double sum = 0, sumsq = 0, min = INFINITY, max = -INFINITY;
  void add(double v) {
    ++n, sum += v, sumsq += v * v;
    min = std::min(min, v), max = std::max(max, v);
  }
  double mean() const { return n ? sum / double(n) : NAN; }
  double std() const {  // sample standard deviation over seeds; 0 for a single run
    if (n < 2) return 0;
    return std::sqrt(std::max(0.0, (sumsq - sum * sum / double(n)) / double(n - 1)));
  }
};

// Everything the analysis passes around: usable rows and their slices and columns.
struct Table {
  const std::vector<RunRecord>* records = nullptr;
  std::vector<size_t> record_of;  // usable row -> record index
  std::vector<int> slice_of;      // usable row -> slice index
  std::vector<int> arch_of;       // usable row -> Arch as int
  std::vector<SliceCounts>* slices = nullptr;
  ConfigColumns cols;
  GroupingColumns g;
  const RunRecord& rec(size_t row) const { return (*records)[record_of[row]]; }
  size_t rows() const { return record_of.size(); }
};

inline const char* arch_name(int a) {
  return to_string(Arch(a));
}
constexpr int kArchCount = 4;

// Describing groups of runs (analyze_axes.cpp; also used by the compute-scaled check).
// The fields worth naming when describing a group of `rows`: those that vary among them, except
// slice keys, seed, threads and the excluded ones.
std::vector<int> varying_within(const GroupingColumns& g, const std::vector<size_t>& rows,
                                const std::vector<int>& excluded);
// "field=value ..." over the given fields of a row.
std::string describe(const GroupingColumns& g, size_t row, const std::vector<int>& fields);

// The builders, one per group of tables of AnalysisReport.
void build_frontiers(const Table& t, AnalysisReport& rep);
void build_ranking(const Table& t, AnalysisReport& rep);
void build_convention_sensitivity(const Table& t, AnalysisReport& rep);  // analyze_conventions.cpp
void build_axis_effects(const Table& t, AnalysisReport& rep);            // analyze_axes.cpp
void build_compute_scaled(const Table& t, AnalysisReport& rep);  // analyze_compute_scaled.cpp
void build_fits(const Table& t, AnalysisReport& rep);            // analyze_fits.cpp

}  // namespace tinyfront::analysis_table
