// The results file of a sweep: one HDF5 file (schema in docs/results-schema.md) plus, while a
// sweep writes it, an append-only journal beside it ("<path>.journal").
//
// Only rank 0 writes. Crash safety (a SIGKILL or power cut at any instant keeps every run that
// store_append returned for):
//   * store_append writes the record as one checksummed line to the journal and fsyncs it before
//     returning; nothing else is touched, so an append costs one small write + fdatasync.
//   * The HDF5 file is never modified in place (HDF5 1.10 cannot make that crash safe). Instead
//     the journal is "folded": the file is copied, the journal's records are written into the
//     copy, the copy is fsynced and renamed over the file (atomic), then a fresh journal replaces
//     the old one. Folds happen every StoreOptions::fold_every_records appends, after
//     fold_every_seconds, on store_flush and on store_close.
//   * Opening replays the journal: complete records not yet in the file count; a torn last
//     record (bad length or checksum: it was being written when the process died, so it was
//     never reported done) is ignored. A generation number in both files tells a journal that
//     was already folded (crash between the two renames) from one that was not.
// Readers (store_read_runs, ...) see the file plus the journal, so they are current even while a
// sweep runs; h5py/pandas see the file as of the last fold.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/run/record.hpp"

namespace tinyfront {

inline constexpr int kResultsSchemaVersion = 2;  // 2: data.max_tokens, model.init
inline constexpr const char* kResultsFormat = "tinyfront-results";

struct StoreOptions {
  // Fold the journal into the HDF5 file after this many appended records (0: never by count).
  // A fold copies the file, so its cost grows with the file; appends in between stay cheap.
  int64_t fold_every_records = 1000;
  // ...or, checked at each append, when the oldest record not yet in the HDF5 file is this old
  // (0: never by time), so that h5py readers of a running sweep do not fall far behind.
  double fold_every_seconds = 600;
};

namespace detail {
struct StoreState;
}

// An open results file, for appending (rank 0 of a sweep). Holds the journal open and locked
// (a second writer is refused). Movable, not copyable. Destroying it without store_close loses
// nothing (the journal holds every record) but leaves the HDF5 file behind the journal until the
// next open or fold.
struct ResultsStore {
  ResultsStore();
  ResultsStore(ResultsStore&&) noexcept;
  ResultsStore& operator=(ResultsStore&&) noexcept;
  ~ResultsStore();
  std::unique_ptr<detail::StoreState> state;
};

// ---- writing ----

// Creates a new results file recording the sweep's spec text. Fails if `path` or its journal
// already exists (results are never overwritten; resume with store_open).
ResultsStore store_create(const std::string& path, const std::string& spec_text,
                          const StoreOptions& options = {});

// Opens an existing results file to append (resume). Validates it read-only first (refusing a
// damaged, foreign or other-schema file without changing a byte), then replays the journal.
ResultsStore store_open(const std::string& path, const StoreOptions& options = {});

// Rebuilds a results file that was lost (deleted, or moved away after being replaced) from its
// journal alone: a new file with the journal's file id and generation and `spec_text`, then
// store_open, which replays the journal. Runs already folded into the lost file are not in the
// journal and are not recovered. Fails if `path` exists or the journal is missing or damaged.
ResultsStore store_rebuild_from_journal(const std::string& path, const std::string& spec_text,
                                        const StoreOptions& options = {});

// Throws tinyfront::Error (and refuses further writes) if the results file was deleted or
// replaced by another file since this store last wrote it; the message says where the recorded
// runs are (the journal) and how to recover. store_append checks this after each record.
void store_check_file(ResultsStore& store);

// Records one run; durable (fsynced) when it returns. A later record for the same run id
// supersedes the earlier one (running -> preempted -> done). Throws tinyfront::Error if the
// record cannot be stored (run id not 1-16 characters of [0-9A-Za-z_-], a NUL byte in a string)
// or the journal write fails; a failed automatic fold does not fail the append (the record is
// already durable) and is reported by the next store_flush or store_close.
void store_append(ResultsStore& store, const RunRecord& record);

// Records several runs with one journal write and one fsync (group commit): all of them are
// durable when it returns, or none is recorded and it throws. Same rules as store_append.
void store_append_all(ResultsStore& store, const std::vector<RunRecord>& records);

// Stores a dataset's vocabulary under /vocab/<name> (durable on return, like a run). Storing the
// same vocabulary again is a no-op; a different one under the same name throws.
void store_put_vocab(ResultsStore& store, const std::string& name, const Vocabulary& vocab);

// Folds the journal into the HDF5 file now.
void store_flush(ResultsStore& store);
// Folds and releases the files. The store cannot be used afterwards.
void store_close(ResultsStore& store);

// The latest status of a run id in this file (journal included); nullopt if never recorded.
std::optional<RunStatus> store_status(const ResultsStore& store, const std::string& run_id);
int64_t store_run_count(const ResultsStore& store);  // distinct run ids
const std::string& store_spec_text(const ResultsStore& store);

// ---- reading (read-only; never changes the file or its journal) ----

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

// Writes a new file `out` holding the union of the inputs' runs and vocabularies. All inputs must
// have the same spec text. A run id present in several inputs keeps one record: status done
// over any other, then the earliest finished_at, then the smaller host name, then the earlier
// input. Fails if `out` exists.
void store_merge(const std::vector<std::string>& inputs, const std::string& out);

// Writes the latest record of every run as CSV (RFC 4180 quoting), one row per run, with the
// /runs column names as header; floats in shortest round-trip form, nan/inf for non-finite.
void store_export_csv(const std::string& path, std::ostream& out);

// The /runs column names of this schema version, in order.
std::vector<std::string> store_columns();

}  // namespace tinyfront
