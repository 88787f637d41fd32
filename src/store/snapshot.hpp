// The HDF5 snapshot of a results file (private to src/store): its header attributes, /runs,
// /curves, /vocab and /long_strings; opening and checking one, creating an empty one, and
// writing a batch of changes into a writable copy. docs/results-schema.md describes the layout.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "h5.hpp"
#include "journal.hpp"
#include "layout.hpp"

namespace tinyfront::snapshot {

// The file's attributes.
struct Header {
  std::string tinyfront_version, git_commit, spec, created_at, updated_at, file_id;
  int64_t schema_version = 0, generation = 0;
  std::vector<std::string> hosts;
};

std::string journal_path_of(const std::string& path);  // "<path>.journal"
std::string now_iso8601();
std::string new_file_id();  // 32 random hex digits

// Opens a results file read-only and checks it is one of ours, of this schema version.
// Nothing is written. Throws Error("<path>: <reason>").
h5::Handle open_snapshot(const std::string& path, Header& hdr);

// Creates an empty results file at `path`, whole or not at all: written under a temporary name,
// synced, then published only if `path` does not exist yet.
void publish_empty_file(const std::string& path, const Header& hdr);
// A new, empty results file at `path` (a temporary name: callers publish it).
void create_empty_file(const std::string& path, const Header& hdr);

// Run ids and statuses of /runs in row order (two 16-byte columns: fast).
struct RunSummaryRow {
  std::string run_id, status;
};
std::vector<RunSummaryRow> read_run_summaries(hid_t file, const std::string& path);

std::vector<layout::LongString> read_long_strings(hid_t file);
std::vector<CurvePoint> read_curve_from(hid_t file, const std::string& run_id);
Vocabulary read_vocab_from(hid_t file, const std::string& name);

// A run to write: its row and curve, and its row in /runs (-1: appended).
struct RunChange {
  const layout::Row* row;
  const std::vector<CurvePoint>* curve;
  int64_t existing_row;  // -1: a new run
  int64_t assigned_row = -1;
};
// Writes runs (updating rows in place or appending), their curves and long strings, and
// vocabularies into an open, writable results file.
void apply_changes(hid_t file, std::vector<RunChange>& runs,
                   const std::vector<const journal::PendingVocab*>& vocabs);
// The attributes a fold updates.
void write_fold_attrs(hid_t file, const std::set<std::string>& hosts, int64_t generation);

}  // namespace tinyfront::snapshot
