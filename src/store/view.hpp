// A read-only view of a results file (private to src/store): the validated snapshot and the
// journal records on top of it, and the latest record of every run across both. Readers, merge
// and export all read through it.
#pragma once

#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "h5.hpp"
#include "journal.hpp"
#include "layout.hpp"
#include "snapshot.hpp"

namespace tinyfront::view {

struct JournalState {
  bool present = false;
  bool applies = false;  // same generation as the snapshot: its records are not in the file yet
  journal::Contents contents;
  std::vector<journal::Entry> entries;
};

// Parses the journal `bytes` read from `jpath` (present: it exists) and checks it belongs to the
// snapshot `hdr`; decodes its records when they apply.
JournalState load_journal(const std::string& jpath, const std::string& bytes, bool present,
                          const snapshot::Header& hdr);

// The journal is opened before the snapshot: a writer renames the new snapshot before the new
// journal, so this order never pairs a newer journal with an older snapshot.
struct View {
  std::string path;
  snapshot::Header hdr;
  h5::Handle file;
  JournalState journal;
};
View open_view(const std::string& path);

// The journal's latest record per run id (later records supersede earlier ones).
struct JournalRuns {
  std::vector<std::string> order;  // first appearance
  std::unordered_map<std::string, const journal::PendingRun*> latest;
};
JournalRuns journal_runs(const JournalState& js);

// Calls f(row, journal_curve) for the latest record of every run: the file's rows in order
// (replaced by the journal's when it has a newer one), then runs only in the journal.
// journal_curve is null when the curve is in the file.
void for_each_latest(
    View& v, const std::function<void(const layout::Row&, const std::vector<CurvePoint>*)>& f);

// The latest vocabularies: the file's, replaced by the journal's.
std::vector<std::string> vocab_names(View& v);
Vocabulary vocab_of(View& v, const std::string& name);

}  // namespace tinyfront::view
