// Reading a results file (the snapshot plus its journal, through view.hpp): validation, the
// run summaries, records, curves and vocabularies.
#include <set>
#include <unordered_set>

#include "layout.hpp"
#include "snapshot.hpp"
#include "tinyfront/store/results_reader.hpp"
#include "tinyfront/util/error.hpp"
#include "view.hpp"

namespace tinyfront {

using layout::Row;
using view::for_each_latest;
using view::journal_runs;
using view::JournalRuns;
using view::open_view;
using view::View;
using view::vocab_names;
using view::vocab_of;

StoreInfo store_validate(const std::string& path) {
  View v = open_view(path);
  StoreInfo info;
  info.schema_version = int(v.hdr.schema_version);
  info.tinyfront_version = v.hdr.tinyfront_version;
  info.git_commit = v.hdr.git_commit;
  info.created_at = v.hdr.created_at;
  info.updated_at = v.hdr.updated_at;
  std::set<std::string> hosts(v.hdr.hosts.begin(), v.hdr.hosts.end());
  if (v.journal.applies) {
    info.journal_records = int64_t(v.journal.contents.payloads.size());
    info.journal_torn_tail = v.journal.contents.valid_bytes < v.journal.contents.total_bytes;
  }
  const size_t host_col = layout::runs_layout().find("host");
  try {
    for_each_latest(v, [&](const Row& row, const std::vector<CurvePoint>*) {
      layout::row_to_record(row);  // every value must decode into a config
      hosts.insert(std::get<std::string>(row[host_col]));
      ++info.runs;
    });
    info.vocabularies = vocab_names(v);
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind(path, 0) == 0) throw;
    throw Error(path + ": " + msg);
  }
  info.hosts.assign(hosts.begin(), hosts.end());
  return info;
}

std::string store_spec_text(const std::string& path) {
  return open_view(path).hdr.spec;  // the journal is checked too: a bad one is reported early
}

std::vector<RunSummary> store_scan(const std::string& path) {
  View v = open_view(path);
  JournalRuns jr = journal_runs(v.journal);
  std::vector<RunSummary> out;
  const std::vector<snapshot::RunSummaryRow> rows = snapshot::read_run_summaries(v.file, path);
  const size_t n = rows.size();
  out.reserve(size_t(n) + jr.order.size());
  std::unordered_set<std::string> in_file;
  in_file.reserve(size_t(n));
  auto add = [&](const std::string& id, const std::string& st) {
    RunSummary r;
    r.run_id = id;
    if (!parse_enum(st, r.status))
      throw Error(path + ": damaged results file: run " + id + " has status '" + st + "'");
    out.push_back(std::move(r));
  };
  for (const auto& r : rows) {
    const std::string& id = r.run_id;
    auto j = jr.latest.find(id);
    add(id, j != jr.latest.end() ? layout::row_status(j->second->row) : r.status);
    if (!jr.latest.empty()) in_file.insert(id);
  }
  for (auto& id : jr.order)
    if (!in_file.count(id)) add(id, layout::row_status(jr.latest.at(id)->row));
  return out;
}

std::vector<RunRecord> store_read_runs(const std::string& path, WithCurves curves) {
  View v = open_view(path);
  std::vector<RunRecord> out;
  for_each_latest(v, [&](const Row& row, const std::vector<CurvePoint>* journal_curve) {
    out.push_back(layout::row_to_record(row));
    if (curves == WithCurves::yes)
      out.back().result.curve =
          journal_curve ? *journal_curve : snapshot::read_curve_from(v.file, out.back().run_id);
  });
  return out;
}

std::vector<CurvePoint> store_read_curve(const std::string& path, const std::string& run_id) {
  View v = open_view(path);
  JournalRuns jr = journal_runs(v.journal);
  auto j = jr.latest.find(run_id);
  if (j != jr.latest.end()) return j->second->curve;
  bool known = false;
  for (auto& r : store_scan(path)) known = known || r.run_id == run_id;
  if (!known) throw Error(path + ": no run with id '" + run_id + "'");
  return snapshot::read_curve_from(v.file, run_id);
}

Vocabulary store_read_vocab(const std::string& path, const std::string& name) {
  View v = open_view(path);
  return vocab_of(v, name);
}

}  // namespace tinyfront
