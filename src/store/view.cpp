#include "view.hpp"

#include <algorithm>
#include <unordered_set>

#include "fsio.hpp"
#include "tinyfront/util/error.hpp"

namespace tinyfront::view {

using journal::PendingRun;
using journal::PendingVocab;
using layout::Row;
using snapshot::Header;

namespace {
constexpr hsize_t kReadBlockRows = 4096;  // rows per read when scanning /runs
}  // namespace

JournalState load_journal(const std::string& jpath, const std::string& bytes, bool present,
                          const Header& hdr) {
  JournalState js;
  js.present = present;
  if (!present) return js;
  js.contents = journal::parse(bytes, jpath);
  const journal::Header& jh = js.contents.header;
  if (jh.file_id != hdr.file_id)
    throw Error(jpath + ": the journal belongs to another results file (file id " + jh.file_id +
                ", the file's is " + hdr.file_id + "); move it away to open the file");
  if (jh.generation > hdr.generation)
    throw Error(jpath + ": the journal is newer than the results file (generation " +
                std::to_string(jh.generation) + " > " + std::to_string(hdr.generation) +
                "): was the file replaced by an older copy? Refusing to guess");
  // An older journal was folded into this snapshot already (a crash between the snapshot's and
  // the journal's rename): everything in it is in the file.
  js.applies = jh.generation == hdr.generation;
  if (js.applies)
    for (auto& p : js.contents.payloads) js.entries.push_back(journal::decode_entry(p, jpath));
  return js;
}

View open_view(const std::string& path) {
  h5::init();
  std::string jpath = snapshot::journal_path_of(path);
  fsio::Fd jfd = fsio::open_read_if_exists(jpath);
  std::string jbytes = jfd ? fsio::read_all(jfd.get(), jpath) : std::string();
  View v;
  v.path = path;
  v.file = snapshot::open_snapshot(path, v.hdr);
  v.journal = load_journal(jpath, jbytes, bool(jfd), v.hdr);
  return v;
}

JournalRuns journal_runs(const JournalState& js) {
  JournalRuns jr;
  for (auto& e : js.entries)
    if (auto* r = std::get_if<PendingRun>(&e)) {
      const std::string& id = layout::row_run_id(r->row);
      auto [it, fresh] = jr.latest.emplace(id, r);
      if (fresh)
        jr.order.push_back(id);
      else
        it->second = r;
    }
  return jr;
}

void for_each_latest(View& v,
                     const std::function<void(const Row&, const std::vector<CurvePoint>*)>& f) {
  JournalRuns jr = journal_runs(v.journal);
  std::unordered_map<std::string, std::vector<std::pair<std::string, std::string>>> longs;
  for (auto& s : snapshot::read_long_strings(v.file))
    longs[s.run_id].emplace_back(s.column, s.value);
  const auto& L = layout::runs_layout();

  h5::Handle ds = h5::open_dataset(v.file, "runs");
  const int64_t n = h5::dataset_rows(ds, "/runs");
  h5::Handle mtype = layout::runs_memory_type();
  std::vector<char> buf;
  std::unordered_set<std::string> seen;
  seen.reserve(size_t(n));
  for (int64_t at = 0; at < n; at += int64_t(kReadBlockRows)) {
    const hsize_t count = std::min<hsize_t>(kReadBlockRows, hsize_t(n - at));
    buf.resize(count * L.row_size);
    h5::read_rows(ds, mtype, hsize_t(at), count, buf.data(), v.path + ": /runs");
    for (hsize_t i = 0; i < count; ++i) {
      Row row = layout::unpack_row(buf.data() + i * L.row_size);
      const std::string& id = layout::row_run_id(row);
      if (!seen.insert(id).second)
        throw Error(v.path + ": damaged results file: run " + id + " has two rows in /runs");
      auto j = jr.latest.find(id);
      if (j != jr.latest.end()) {
        f(j->second->row, &j->second->curve);
        continue;
      }
      auto l = longs.find(id);
      if (l != longs.end())
        for (auto& [col, value] : l->second) row[L.find(col)] = value;
      f(row, nullptr);
    }
  }
  for (auto& id : jr.order)
    if (!seen.count(id)) f(jr.latest.at(id)->row, &jr.latest.at(id)->curve);
}

std::vector<std::string> vocab_names(View& v) {
  std::vector<std::string> names = h5::list_group(v.file, "vocab");
  for (auto& e : v.journal.entries)
    if (auto* p = std::get_if<PendingVocab>(&e))
      if (std::find(names.begin(), names.end(), p->name) == names.end()) names.push_back(p->name);
  return names;
}

Vocabulary vocab_of(View& v, const std::string& name) {
  for (auto it = v.journal.entries.rbegin(); it != v.journal.entries.rend(); ++it)
    if (auto* p = std::get_if<PendingVocab>(&*it))
      if (p->name == name) return p->vocab;
  if (name.find('/') == std::string::npos && h5::link_exists(v.file, "vocab/" + name))
    return snapshot::read_vocab_from(v.file, name);
  throw Error(v.path + ": no vocabulary named '" + name + "'");
}

}  // namespace tinyfront::view
