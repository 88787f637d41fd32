// The parts of an analysis report, put together by write_report (report.cpp): the CSV tables,
// report.md and analysis.json. Each part is built in memory, so that write_report can check every
// file of the report before it writes the first (a refused report changes nothing).
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "tinyfront/analysis/analysis.hpp"

namespace tinyfront {

// The files of a report, path and text, in the order they were made.
struct ReportFiles {
  std::vector<std::pair<std::filesystem::path, std::string>> files;
  void add(const std::filesystem::path& path, std::string text) {
    files.emplace_back(path, std::move(text));
  }
};

// A fit's name in prose: the architecture, and which of its runs when not all.
inline std::string fit_label(const FitRow& f) {
  return f.runs_used == "all" ? f.arch : f.arch + " (" + f.runs_used + " runs only)";
}

// Every table as CSV (runs.csv, frontier_*.csv, fits.csv, curves.csv, ...) into dir.
void write_csvs(const AnalysisReport& rep, const std::filesystem::path& dir, ReportFiles& files);
// reference.csv: published figures beside ours (only when the analysis had reference files).
void write_reference_csv(const AnalysisReport& rep, const std::filesystem::path& dir,
                         ReportFiles& files);
// report.md.
std::string markdown_report(const AnalysisReport& rep);
// analysis.json.
std::string json_report(const AnalysisReport& rep);

}  // namespace tinyfront
