// Merging results files: the union of their runs (one record per run id, chosen the same way
// whatever the input order) and vocabularies, written as a new file.
#include <algorithm>
#include <set>
#include <unordered_map>

#include "fsio.hpp"
#include "layout.hpp"
#include "snapshot.hpp"
#include "tinyfront/store/results_merge.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"
#include "tinyfront/util/system.hpp"
#include "view.hpp"

namespace tinyfront {

using layout::Row;
using view::for_each_latest;
using view::open_view;
using view::View;
using view::vocab_names;
using view::vocab_of;

namespace {

// The union so far: one candidate record per run id, in first-seen order, and the vocabularies.
struct Merged {
  struct Candidate {
    Row row;
    std::vector<CurvePoint> curve;
  };
  std::string spec;
  std::set<std::string> hosts;
  std::vector<std::string> order;
  std::unordered_map<std::string, Candidate> best;
  std::vector<journal::PendingVocab> vocabs;
};

// Deterministic choice among records of one run id from several files: done over any other
// status, then the earlier finished_at, then the smaller host name (then the earlier input).
bool better(const Row& a, const Row& b) {
  const auto& L = layout::runs_layout();
  static const size_t host_col = L.find("host"), finished_col = L.find("finished_at");
  bool a_done = layout::row_status(a) == "done", b_done = layout::row_status(b) == "done";
  if (a_done != b_done) return a_done;
  double fa = std::get<double>(a[finished_col]), fb = std::get<double>(b[finished_col]);
  if (fa != fb) return fa < fb;
  return std::get<std::string>(a[host_col]) < std::get<std::string>(b[host_col]);
}

void add_input(Merged& m, const std::string& path, const std::string& first) {
  View v = open_view(path);
  if (v.hdr.spec != m.spec)
    throw Error("store_merge: " + path + " was written for another spec than " + first +
                " (their spec texts differ); refusing to merge");
  m.hosts.insert(v.hdr.hosts.begin(), v.hdr.hosts.end());
  for_each_latest(v, [&](const Row& row, const std::vector<CurvePoint>* journal_curve) {
    const std::string& id = layout::row_run_id(row);
    auto it = m.best.find(id);
    if (it != m.best.end() && !better(row, it->second.row)) return;
    Merged::Candidate c{row,
                        journal_curve ? *journal_curve : snapshot::read_curve_from(v.file, id)};
    if (it == m.best.end()) {
      m.order.push_back(id);
      m.best.emplace(id, std::move(c));
    } else {
      it->second = std::move(c);
    }
  });
  for (auto& name : vocab_names(v)) {
    Vocabulary voc = vocab_of(v, name);
    auto same = std::find_if(m.vocabs.begin(), m.vocabs.end(),
                             [&](const journal::PendingVocab& p) { return p.name == name; });
    if (same == m.vocabs.end())
      m.vocabs.push_back({name, std::move(voc)});
    else if (journal::vocab_fingerprint(same->vocab) != journal::vocab_fingerprint(voc))
      throw Error("store_merge: " + path + " has another vocabulary '" + name +
                  "' than an earlier input; refusing to merge");
  }
}

}  // namespace

void store_merge(const std::vector<std::string>& inputs, const std::string& out) {
  h5::init();
  if (inputs.empty()) throw Error("store_merge: no input files");
  if (fsio::exists(out))
    throw Error(out + ": already exists; refusing to overwrite it with merged results");
  if (fsio::exists(snapshot::journal_path_of(out)))
    throw Error(snapshot::journal_path_of(out) +
                ": a journal exists for the merge output; move it away");
  check_may_write(out, {"merge output", OutputKind::file, false, nullptr});  // its directory

  Merged m;
  m.spec = open_view(inputs[0]).hdr.spec;
  for (const std::string& in : inputs) add_input(m, in, inputs[0]);

  snapshot::Header hdr;
  hdr.spec = m.spec;
  hdr.created_at = hdr.updated_at = snapshot::now_iso8601();
  hdr.file_id = snapshot::new_file_id();
  hdr.generation = 1;
  const size_t host_col = layout::runs_layout().find("host");
  m.hosts.insert(host_name());
  for (auto& id : m.order) m.hosts.insert(std::get<std::string>(m.best.at(id).row[host_col]));
  hdr.hosts.assign(m.hosts.begin(), m.hosts.end());

  std::vector<snapshot::RunChange> changes;
  for (auto& id : m.order) changes.push_back({&m.best.at(id).row, &m.best.at(id).curve, -1});
  std::vector<const journal::PendingVocab*> vptrs;
  for (auto& v : m.vocabs) vptrs.push_back(&v);

  fsio::write_atomically(out, fsio::Publish::no_clobber, [&](const std::string& tmp) {
    snapshot::create_empty_file(tmp, hdr);
    h5::Handle file = h5::open_file(tmp, true);
    snapshot::apply_changes(file, changes, vptrs);
    file.close("close " + tmp);
  });
}

}  // namespace tinyfront
