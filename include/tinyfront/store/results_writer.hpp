// Writing a results file (results_file.hpp describes the file and its crash safety): the store
// rank 0 of a sweep appends to.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tinyfront/data/corpus.hpp"
#include "tinyfront/run/record.hpp"

namespace tinyfront {

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

}  // namespace tinyfront
