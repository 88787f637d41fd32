// The writable results store (rank 0 of a sweep): create, open (replaying the journal), append
// durably to the journal, fold the journal into the snapshot. See results_file.hpp for the
// crash-safety design.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "fsio.hpp"
#include "h5.hpp"
#include "journal.hpp"
#include "layout.hpp"
#include "snapshot.hpp"
#include "tinyfront/store/results_writer.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"
#include "tinyfront/util/system.hpp"
#include "view.hpp"

namespace tinyfront {

using layout::Row;

namespace detail {
struct StoreState {
  std::string path, jpath;
  StoreOptions options;
  std::string spec, file_id;
  int64_t generation = 0;
  fsio::Fd journal;            // open and flock'ed
  long long journal_size = 0;  // bytes of complete records: the next one is written here

  struct RunEntry {
    int64_t row = -1;  // row in the file's /runs; -1 until folded
    RunStatus status = RunStatus::pending;
  };
  std::unordered_map<std::string, RunEntry> runs;
  std::unordered_map<std::string, uint64_t> vocabs;  // name -> fingerprint
  std::set<std::string> hosts;

  std::vector<journal::PendingRun> pending;  // in the journal, not yet in the file
  std::vector<journal::PendingVocab> pending_vocab;
  std::chrono::steady_clock::time_point oldest_pending;
  int64_t fold_at_records = 0;  // pending count that triggers the next automatic fold

  std::string broken;          // non-empty: why further writes are refused
  std::string deferred_error;  // a failed automatic fold, reported by flush/close

  // The snapshot this store wrote last (device, inode): a results file deleted or replaced
  // behind the writer's back is noticed at the next record, not at the end of the sweep.
  dev_t snapshot_dev = 0;
  ino_t snapshot_ino = 0;
  int64_t journal_records = 0;  // run records in the current journal
};
}  // namespace detail

ResultsStore::ResultsStore() = default;
ResultsStore::ResultsStore(ResultsStore&&) noexcept = default;
ResultsStore& ResultsStore::operator=(ResultsStore&&) noexcept = default;
ResultsStore::~ResultsStore() = default;

namespace {

using State = detail::StoreState;

State& usable(ResultsStore& store) {
  if (!store.state) throw Error("results store: used after store_close (or moved from)");
  State& s = *store.state;
  if (!s.broken.empty())
    throw Error(s.path + ": the results store stopped accepting writes: " + s.broken);
  return s;
}

const State& readable(const ResultsStore& store) {
  if (!store.state) throw Error("results store: used after store_close (or moved from)");
  return *store.state;
}

// Writes a journal holding only a header and puts it at jpath, atomically: replacing the
// current one (after a fold), or only if there is none (a new file). The returned descriptor is
// locked before the new journal becomes visible, so no other writer can slip in.
fsio::Fd start_journal(const std::string& jpath, const journal::Header& h, bool replace) {
  const std::string tmp_path = fsio::temp_path_of(jpath);
  fsio::Fd fd(::open(tmp_path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) fsio::fail_errno("create", tmp_path);
  // Locked by another process: its temporary journal, not ours to remove.
  if (!fsio::try_lock(fd.get())) throw Error(tmp_path + ": locked by another process");
  fsio::TempFile tmp(jpath);  // ours from here: removed unless published
  fsio::pwrite_all(fd.get(), journal::header_text(h), 0, tmp.path());
  fsio::fsync_fd(fd.get(), tmp.path());
  tmp.publish(replace ? fsio::Publish::replace : fsio::Publish::no_clobber);
  return fd;
}

// Opens the existing journal for appending and takes its lock. Empty if there is none.
fsio::Fd open_locked_journal(const std::string& jpath) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    fsio::Fd fd(::open(jpath.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) return fsio::Fd();
      fsio::fail_errno("open", jpath);
    }
    fsio::require_regular_fd(fd.get(), jpath);
    if (!fsio::try_lock(fd.get()))
      throw Error(jpath + ": another process is writing this results file (its journal is locked)");
    // A writer that folded may have replaced the journal between our open and lock: then we
    // hold a lock on a file that is no longer the journal, and try again.
    struct stat a, b;
    if (::fstat(fd.get(), &a) != 0) fsio::fail_errno("stat", jpath);
    if (::stat(jpath.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) return fd;
  }
  throw Error(jpath + ": keeps being replaced; is another process writing this results file?");
}

void note_snapshot(State& s) {
  struct stat st;
  if (::stat(s.path.c_str(), &st) != 0) fsio::fail_errno("stat", s.path);
  s.snapshot_dev = st.st_dev;
  s.snapshot_ino = st.st_ino;
}

// Refuses further writes if the results file is no longer the one this store wrote: deleted, or
// replaced by another file (a copy, another sweep's file). Everything recorded since the last
// fold is in the journal, which is still ours (we hold it open and locked); the message says so
// and how to get it back.
void check_snapshot(State& s) {
  struct stat st;
  const bool gone = ::stat(s.path.c_str(), &st) != 0;
  if (!gone && st.st_dev == s.snapshot_dev && st.st_ino == s.snapshot_ino) return;
  std::string msg =
      s.path + ": the results file was " + (gone ? "deleted" : "replaced by another file") +
      " while this sweep was writing it. " + "The " + std::to_string(s.journal_records) +
      " run record(s) written since it was last updated are safe in its journal " + s.jpath +
      (s.generation > 1 ? " (runs folded into the file before that were only in the file: restore "
                          "it from a backup, or they run again)"
                        : "") +
      ". To recover: " +
      (gone ? "" : "move the file now at " + s.path + " away (this sweep did not write it), ") +
      "run the same command again: it rebuilds " + s.path + " from the journal and resumes";
  s.broken = msg;
  throw Error(msg);
}

void fold(State& s) {
  if (s.pending.empty() && s.pending_vocab.empty()) return;
  check_snapshot(s);
  // The latest record of each run id, in first-appearance order.
  std::unordered_map<std::string, size_t> last;
  for (size_t i = 0; i < s.pending.size(); ++i) last[layout::row_run_id(s.pending[i].row)] = i;
  std::vector<snapshot::RunChange> changes;
  std::unordered_set<std::string> seen;
  for (auto& p : s.pending) {
    const std::string& id = layout::row_run_id(p.row);
    if (!seen.insert(id).second) continue;
    const journal::PendingRun& latest = s.pending[last[id]];
    changes.push_back({&latest.row, &latest.curve, s.runs.at(id).row});
    s.hosts.insert(std::get<std::string>(latest.row[layout::runs_layout().find("host")]));
  }
  std::vector<const journal::PendingVocab*> vocabs;
  for (auto& v : s.pending_vocab) vocabs.push_back(&v);
  s.hosts.insert(host_name());

  // Copy, change the copy, make it durable, rename it over the file. A crash before the rename
  // leaves the old file and the journal; after it, the new file (the journal is then stale).
  fsio::write_atomically(s.path, fsio::Publish::replace, [&](const std::string& tmp) {
    fsio::copy_file(s.path, tmp);
    h5::Handle file = h5::open_file(tmp, true);
    snapshot::apply_changes(file, changes, vocabs);
    snapshot::write_fold_attrs(file, s.hosts, s.generation + 1);
    file.close("close " + tmp);
  });
  note_snapshot(s);
  s.generation += 1;
  s.journal_records = 0;
  for (auto& c : changes) s.runs.at(layout::row_run_id(*c.row)).row = c.assigned_row;
  s.pending.clear();
  s.pending_vocab.clear();
  try {
    journal::Header h{s.file_id, s.generation};
    s.journal = start_journal(s.jpath, h, true);
    s.journal_size = (long long)journal::header_text(h).size();
  } catch (const Error& e) {
    // The file holds everything, but appending to the old (stale) journal would lose records.
    s.broken = std::string("cannot start a new journal after a fold: ") + e.what();
    throw;
  }
}

// Appends framed records (one or more, concatenated) with one write and one fdatasync: a group
// commit costs one disk flush however many records it holds.
void append_frames(State& s, const std::string& fr) {
  try {
    fsio::pwrite_all(s.journal.get(), fr, s.journal_size, s.jpath);
  } catch (const Error&) {
    // Cut off a partial record so that later records are not hidden behind it.
    if (::ftruncate(s.journal.get(), s.journal_size) != 0 || ::fsync(s.journal.get()) != 0)
      s.broken = "cannot remove a partly written journal record";
    throw;
  }
  try {
    fsio::fdatasync_fd(s.journal.get(), s.jpath);
  } catch (const Error& e) {
    // After a failed fsync the kernel may have dropped the dirty pages: nothing is known.
    s.broken = e.what();
    throw;
  }
  s.journal_size += (long long)fr.size();
}

void append_payload(State& s, const std::string& payload) {
  append_frames(s, journal::frame(payload));
}

void note_pending(State& s) {
  if (s.pending.size() + s.pending_vocab.size() == 1)
    s.oldest_pending = std::chrono::steady_clock::now();
}

void maybe_fold(State& s) {
  const int64_t n = int64_t(s.pending.size() + s.pending_vocab.size());
  if (n == 0) return;
  bool due = s.options.fold_every_records > 0 && n >= s.fold_at_records;
  if (s.options.fold_every_seconds > 0) {
    std::chrono::duration<double> age = std::chrono::steady_clock::now() - s.oldest_pending;
    due = due || age.count() >= s.options.fold_every_seconds;
  }
  if (!due) return;
  try {
    fold(s);
    s.deferred_error.clear();
    s.fold_at_records = s.options.fold_every_records;
  } catch (const std::exception& e) {
    // The record is durable in the journal; a failed fold is retried later, not fatal here.
    s.deferred_error = e.what();
    s.fold_at_records = n + std::max<int64_t>(1, s.options.fold_every_records);
    s.oldest_pending = std::chrono::steady_clock::now();
  }
}

void apply_entry(State& s, journal::Entry&& e) {
  if (auto* r = std::get_if<journal::PendingRun>(&e)) {
    RunStatus st = RunStatus::pending;
    parse_enum(layout::row_status(r->row), st);
    s.runs[layout::row_run_id(r->row)].status = st;
    s.pending.push_back(std::move(*r));
  } else {
    auto& v = std::get<journal::PendingVocab>(e);
    s.vocabs[v.name] = journal::vocab_fingerprint(v.vocab);
    s.pending_vocab.push_back(std::move(v));
  }
  note_pending(s);
}

// A store for the results file `path` whose snapshot has header `hdr`; no journal yet.
ResultsStore new_store(const std::string& path, const StoreOptions& options,
                       const snapshot::Header& hdr) {
  ResultsStore store;
  store.state = std::make_unique<State>();
  State& s = *store.state;
  s.path = path;
  s.jpath = snapshot::journal_path_of(path);
  s.options = options;
  s.spec = hdr.spec;
  s.file_id = hdr.file_id;
  s.generation = hdr.generation;
  s.hosts.insert(hdr.hosts.begin(), hdr.hosts.end());
  s.fold_at_records = options.fold_every_records;
  return store;
}

// The runs (id, status, row) and vocabularies (fingerprints) of the snapshot.
void index_snapshot(State& s, hid_t file) {
  const auto rows = snapshot::read_run_summaries(file, s.path);
  s.runs.reserve(rows.size() + 1024);
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::string &id = rows[i].run_id, &st = rows[i].status;
    State::RunEntry e;
    e.row = int64_t(i);
    if (!parse_enum(st, e.status))
      throw Error(s.path + ": damaged results file: run " + id + " has status '" + st + "'");
    if (!s.runs.emplace(id, e).second)
      throw Error(s.path + ": damaged results file: run " + id + " has two rows in /runs");
  }
  for (auto& name : h5::list_group(file, "vocab"))
    s.vocabs[name] = journal::vocab_fingerprint(snapshot::read_vocab_from(file, name));
}

// Takes the journal's records as pending and continues the journal (`jfd`, locked; empty if there
// is none) where its last complete record ends, or starts a new one.
void resume_journal(State& s, fsio::Fd jfd, view::JournalState js) {
  for (auto& e : js.entries) apply_entry(s, std::move(e));
  s.journal_records = int64_t(s.pending.size());
  journal::Header jh{s.file_id, s.generation};
  if (!jfd || !js.applies) {
    // No journal (a crash right after creating the file): start one. Or a stale one (already
    // folded into the file): start afresh.
    s.journal = start_journal(s.jpath, jh, bool(jfd));
    s.journal_size = (long long)journal::header_text(jh).size();
    return;
  }
  s.journal = std::move(jfd);
  s.journal_size = (long long)js.contents.valid_bytes;
  if (js.contents.valid_bytes < js.contents.total_bytes) {
    // A torn last record (never reported done): cut it off so new records follow the last
    // good one. A crash before this is durable leaves the same torn tail: harmless.
    if (::ftruncate(s.journal.get(), s.journal_size) != 0) fsio::fail_errno("truncate", s.jpath);
    fsio::fsync_fd(s.journal.get(), s.jpath);
  }
}

}  // namespace

ResultsStore store_create(const std::string& path, const std::string& spec_text,
                          const StoreOptions& options) {
  h5::init();
  const std::string jpath = snapshot::journal_path_of(path);
  if (fsio::exists(path))
    throw Error(path +
                ": already exists; refusing to overwrite results (open it with "
                "store_open to resume, or choose another path)");
  if (fsio::exists(jpath))
    throw Error(jpath +
                ": a journal exists without its results file (left by an earlier "
                "sweep?); move it away first");
  if (spec_text.find('\0') != std::string::npos)
    throw Error(path + ": the spec text contains a NUL byte, which an HDF5 string cannot hold");
  check_may_write(path, {"results file", OutputKind::file, false, nullptr});  // its directory
  snapshot::Header hdr;
  hdr.spec = spec_text;
  hdr.created_at = hdr.updated_at = snapshot::now_iso8601();
  hdr.file_id = snapshot::new_file_id();
  hdr.generation = 1;
  hdr.hosts = {host_name()};

  snapshot::publish_empty_file(path, hdr);
  ResultsStore store = new_store(path, options, hdr);
  State& s = *store.state;
  journal::Header jh{s.file_id, s.generation};
  s.journal = start_journal(jpath, jh, false);
  s.journal_size = (long long)journal::header_text(jh).size();
  note_snapshot(s);
  return store;
}

ResultsStore store_open(const std::string& path, const StoreOptions& options) {
  h5::init();
  const std::string jpath = snapshot::journal_path_of(path);
  // A read-only results file (mode 0444) is its owner's statement that it must not change, and
  // appending rewrites it (folds replace it by an updated copy). Refused before anything is
  // touched, even for root, whom the mode does not stop.
  check_may_write(
      path, {"results file", OutputKind::file, false, [](const std::string&) { return true; }});
  // Everything up to "validated" only reads (the journal is opened read-write for its lock,
  // but not written): a refused file is left byte for byte as it was.
  fsio::Fd jfd = open_locked_journal(jpath);
  std::string jbytes = jfd ? fsio::read_all(jfd.get(), jpath) : std::string();
  snapshot::Header hdr;
  h5::Handle file = snapshot::open_snapshot(path, hdr);
  view::JournalState js = view::load_journal(jpath, jbytes, bool(jfd), hdr);

  ResultsStore store = new_store(path, options, hdr);
  State& s = *store.state;
  index_snapshot(s, file);
  file.reset();

  // Validated. From here on the files may change.
  note_snapshot(s);
  ::unlink(fsio::temp_path_of(path).c_str());  // left by a crash
  ::unlink(fsio::temp_path_of(jpath).c_str());
  resume_journal(s, std::move(jfd), std::move(js));
  return store;
}

ResultsStore store_rebuild_from_journal(const std::string& path, const std::string& spec_text,
                                        const StoreOptions& options) {
  h5::init();
  const std::string jpath = snapshot::journal_path_of(path);
  if (fsio::exists(path)) throw Error(path + ": already exists; nothing to rebuild");
  if (spec_text.find('\0') != std::string::npos)
    throw Error(path + ": the spec text contains a NUL byte, which an HDF5 string cannot hold");
  check_may_write(path, {"results file", OutputKind::file, false, nullptr});  // its directory
  snapshot::Header hdr;
  {
    // Locked while the new file is made, so that no other writer uses the journal meanwhile.
    fsio::Fd jfd = open_locked_journal(jpath);
    if (!jfd) throw Error(jpath + ": no such file: nothing to rebuild " + path + " from");
    const journal::Contents c = journal::parse(fsio::read_all(jfd.get(), jpath), jpath);
    for (auto& p : c.payloads) journal::decode_entry(p, jpath);  // every record readable, or refuse
    // The journal applies to a snapshot of its own file id and generation: an empty one.
    hdr.spec = spec_text;
    hdr.created_at = hdr.updated_at = snapshot::now_iso8601();
    hdr.file_id = c.header.file_id;
    hdr.generation = c.header.generation;
    hdr.hosts = {host_name()};
    snapshot::publish_empty_file(path, hdr);
  }
  return store_open(path, options);
}

void store_check_file(ResultsStore& store) {
  check_snapshot(usable(store));
}

void store_append(ResultsStore& store, const RunRecord& record) {
  store_append_all(store, {record});
}

void store_append_all(ResultsStore& store, const std::vector<RunRecord>& records) {
  State& s = usable(store);
  if (records.empty()) return;
  std::vector<Row> rows;
  std::string frames;
  for (const RunRecord& record : records) {
    rows.push_back(layout::record_to_row(record));  // may throw: before anything is written
    frames += journal::frame(journal::encode_run(rows.back(), record.result.curve));
  }
  append_frames(s, frames);  // durable in the journal first
  s.journal_records += int64_t(records.size());
  if (s.pending.empty() && s.pending_vocab.empty())
    s.oldest_pending = std::chrono::steady_clock::now();
  for (size_t i = 0; i < records.size(); ++i) {
    s.runs[records[i].run_id].status = records[i].result.status;
    s.pending.push_back({std::move(rows[i]), records[i].result.curve});
  }
  check_snapshot(s);
  maybe_fold(s);
}

void store_put_vocab(ResultsStore& store, const std::string& name, const Vocabulary& vocab) {
  State& s = usable(store);
  journal::check_vocab(name, vocab);
  uint64_t fp = journal::vocab_fingerprint(vocab);
  auto it = s.vocabs.find(name);
  if (it != s.vocabs.end()) {
    if (it->second == fp) return;
    throw Error(s.path + ": already holds a different vocabulary named '" + name +
                "'; refusing to replace it");
  }
  append_payload(s, journal::encode_vocab(name, vocab));
  s.vocabs[name] = fp;
  s.pending_vocab.push_back({name, vocab});
  note_pending(s);
  maybe_fold(s);
}

void store_flush(ResultsStore& store) {
  State& s = usable(store);
  fold(s);
  s.deferred_error.clear();
  s.fold_at_records = s.options.fold_every_records;
}

void store_close(ResultsStore& store) {
  if (!store.state) return;
  // Release the files whatever happens: the journal keeps anything the fold did not get to.
  std::unique_ptr<State> s = std::move(store.state);
  if (!s->broken.empty())
    throw Error(s->path + ": the results store stopped accepting writes: " + s->broken);
  fold(*s);
}

std::optional<RunStatus> store_status(const ResultsStore& store, const std::string& run_id) {
  const State& s = readable(store);
  auto it = s.runs.find(run_id);
  if (it == s.runs.end()) return std::nullopt;
  return it->second.status;
}

int64_t store_run_count(const ResultsStore& store) {
  return int64_t(readable(store).runs.size());
}

const std::string& store_spec_text(const ResultsStore& store) {
  return readable(store).spec;
}

}  // namespace tinyfront
