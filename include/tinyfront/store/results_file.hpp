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
//
// The API is in one header per concept, all included here: results_writer.hpp (create, open,
// append, fold), results_reader.hpp (validate, scan, read), results_merge.hpp, results_export.hpp.
#pragma once

#include "tinyfront/store/results_export.hpp"
#include "tinyfront/store/results_merge.hpp"
#include "tinyfront/store/results_reader.hpp"
#include "tinyfront/store/results_writer.hpp"

namespace tinyfront {

inline constexpr int kResultsSchemaVersion = 2;  // 2: data.max_tokens, model.init
inline constexpr const char* kResultsFormat = "tinyfront-results";

}  // namespace tinyfront
