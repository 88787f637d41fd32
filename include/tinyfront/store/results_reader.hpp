// Reading a results file (results_file.hpp): the snapshot plus its journal, so readers are
// current even while a sweep writes it. Read-only: never changes the file or its journal.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/run/record.hpp"

namespace tinyfront {

struct StoreInfo {
  int schema_version = 0;
  std::string tinyfront_version, git_commit;  // of the tinyfront that created the file
  std::string created_at, updated_at;         // ISO 8601 UTC
  std::vector<std::string> hosts;
  std::vector<std::string> vocabularies;  // names under /vocab
  int64_t runs = 0;                       // distinct run ids, journal included
  int64_t journal_records = 0;            // complete records not yet folded
  bool journal_torn_tail = false;         // an incomplete last record was ignored
};

// Checks that `path` is a readable results file of this schema version (header, /runs layout,
// every row, the journal). Throws tinyfront::Error naming the path and the reason.
StoreInfo store_validate(const std::string& path);

std::string store_spec_text(const std::string& path);

struct RunSummary {
  std::string run_id;
  RunStatus status = RunStatus::pending;
};
// Run ids and their latest statuses, in first-recorded order: what a resuming sweep needs.
// Reads only those two columns, so it is fast on large files.
std::vector<RunSummary> store_scan(const std::string& path);

enum class WithCurves { no, yes };
// Every run's latest record, in first-recorded order. Curves are loaded only on request
// (one HDF5 object per run: slow for very large files).
std::vector<RunRecord> store_read_runs(const std::string& path, WithCurves curves = WithCurves::no);
std::vector<CurvePoint> store_read_curve(const std::string& path, const std::string& run_id);
Vocabulary store_read_vocab(const std::string& path, const std::string& name);

}  // namespace tinyfront
