// write_report: an analysis as a directory of files (CSV tables, report.md, analysis.json),
// written only into a directory that tinyfront made (or an empty one).
#include "tinyfront/analysis/report.hpp"

#include <filesystem>

#include "report_parts.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"

namespace tinyfront {

namespace fs = std::filesystem;

namespace {
constexpr const char* kReportMark = ".tinyfront-report";
}  // namespace

void write_report(const AnalysisReport& report, const std::string& out_dir) {
  const fs::path dir(out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error("write_report: cannot create " + out_dir + ": " + ec.message());
  // Every file is made in memory and checked before the first is written: a refused report (a
  // read-only report.md) changes nothing.
  ReportFiles report_files;
  report_files.add(dir / kReportMark,
                   "This directory was written by `tinyfront analyze`, which may replace its "
                   "files.\n");
  write_csvs(report, dir, report_files);
  write_reference_csv(report, dir, report_files);
  report_files.add(dir / "report.md", markdown_report(report));
  report_files.add(dir / "analysis.json", json_report(report));
  const auto& files = report_files.files;
  for (auto& [path, text] : files)
    check_may_write(path.string(), {"report file", OutputKind::file, false,
                                    [](const std::string&) { return true; }});
  for (auto& [path, text] : files) write_file_atomically(path.string(), text);
}

bool is_report_directory(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(fs::path(dir) / kReportMark, ec)) return true;
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec) && !ec;
}

}  // namespace tinyfront
