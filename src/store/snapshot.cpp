#include "snapshot.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>
#include <unordered_set>

#include "fsio.hpp"
#include "tinyfront/store/results_file.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/version.hpp"

namespace tinyfront::snapshot {

using h5::dataset_rows;
using journal::PendingVocab;
using layout::Row;

namespace {
constexpr hsize_t kChunkRows = 64;  // ~90 KiB of /runs per chunk
constexpr unsigned kDeflateLevel = 4;
constexpr size_t kCompactCurveBytes = 16 * 1024;  // smaller curves live in the object header
}  // namespace

std::string journal_path_of(const std::string& path) {
  return path + ".journal";
}

std::string now_iso8601() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string new_file_id() {
  std::random_device rd;
  char buf[33];
  uint64_t a = (uint64_t(rd()) << 32) ^ rd(), b = (uint64_t(rd()) << 32) ^ rd();
  std::snprintf(buf, sizeof buf, "%016llx%016llx", (unsigned long long)a, (unsigned long long)b);
  return buf;
}

namespace {

// Why a /runs type differs from this schema's, for the refusal message.
std::string describe_type_difference(hid_t have) {
  if (!h5::is_compound(have)) return "it is not a compound type";
  const auto& L = layout::runs_layout();
  const std::vector<std::string> names = h5::member_names(have);
  for (size_t i = 0; i < names.size() && i < L.columns.size(); ++i)
    if (names[i] != L.columns[i].name)
      return "column " + std::to_string(i) + " is '" + names[i] + "', expected '" +
             L.columns[i].name + "'";
  if (names.size() != L.columns.size())
    return std::to_string(names.size()) + " columns, expected " + std::to_string(L.columns.size());
  return "a column has another type or width";
}

void write_long_strings(hid_t file, const std::vector<layout::LongString>& v) {
  h5::delete_link(file, "long_strings");
  h5::Handle ftype = layout::long_strings_file_type();
  h5::Handle ds = h5::create_table(file, "long_strings", ftype, v.size());
  if (v.empty()) return;
  std::vector<layout::LongStringMem> buf(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    std::memset(&buf[i], 0, sizeof buf[i]);
    std::memcpy(buf[i].run_id, v[i].run_id.data(), std::min(v[i].run_id.size(), size_t(16)));
    std::memcpy(buf[i].column, v[i].column.data(), std::min(v[i].column.size(), size_t(64)));
    buf[i].value = v[i].value.c_str();
  }
  h5::Handle mtype = layout::long_strings_memory_type();
  h5::write_all(ds, mtype, buf.data(), "/long_strings");
}

void write_curve(hid_t group, hid_t ftype, hid_t mtype, const std::string& run_id,
                 const std::vector<CurvePoint>& curve) {
  h5::delete_link(group, run_id);
  if (curve.empty()) return;
  h5::Handle dcpl =
      curve.size() * sizeof(CurvePoint) <= kCompactCurveBytes ? h5::compact_plist() : h5::Handle();
  h5::Handle ds =
      h5::create_table(group, run_id, ftype, curve.size(), dcpl ? hid_t(dcpl) : H5P_DEFAULT);
  h5::write_all(ds, mtype, curve.data(), "/curves/" + run_id);
}

void write_vocab(hid_t file, const std::string& name, const Vocabulary& v) {
  const std::string path = "vocab/" + name;
  h5::delete_link(file, path);
  // Variable-length strings (word tokens have any length), as bytes: the store's one rule
  // (h5.hpp write_byte_strings) marks them UTF-8 only when every token is.
  h5::write_byte_strings(file, path, v.tokens);
  h5::Handle ds = h5::open_dataset(file, path);
  h5::write_attr_string(ds, "kind", to_string(v.kind));
}

}  // namespace

h5::Handle open_snapshot(const std::string& path, Header& hdr) {
  h5::init();
  auto refuse = [&](const std::string& why) { return Error(path + ": " + why); };
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw refuse(std::string("cannot open: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw refuse("not a regular file");
  if (!h5::is_hdf5(path))
    throw refuse("not a tinyfront results file: not an HDF5 file (no HDF5 signature)");
  std::string reason;
  h5::Handle file = h5::try_open_file(path, &reason);
  if (!file) throw refuse("cannot be opened as HDF5 (truncated or damaged?): " + reason);
  try {
    auto format = h5::read_attr_string(file, "format");
    if (!format) throw refuse("not a tinyfront results file (HDF5 without a 'format' attribute)");
    if (*format != kResultsFormat)
      throw refuse("not a tinyfront results file (format is '" + *format + "', expected '" +
                   kResultsFormat + "')");
    auto version = h5::read_attr_int(file, "schema_version");
    if (!version) throw refuse("damaged results file: no 'schema_version' attribute");
    if (*version != kResultsSchemaVersion)
      throw refuse("results schema version " + std::to_string(*version) + ", but this tinyfront (" +
                   TINYFRONT_VERSION + ") reads schema version " +
                   std::to_string(kResultsSchemaVersion));
    hdr.schema_version = *version;
    auto need_string = [&](const char* name) {
      auto v = h5::read_attr_string(file, name);
      if (!v) throw refuse(std::string("damaged results file: no '") + name + "' attribute");
      return *v;
    };
    hdr.tinyfront_version = need_string("tinyfront_version");
    hdr.git_commit = need_string("git_commit");
    hdr.spec = need_string("spec");
    hdr.created_at = need_string("created_at");
    hdr.updated_at = need_string("updated_at");
    hdr.file_id = need_string("file_id");
    auto gen = h5::read_attr_int(file, "journal_generation");
    if (!gen) throw refuse("damaged results file: no 'journal_generation' attribute");
    hdr.generation = *gen;
    auto hosts = h5::read_attr_strings(file, "hosts");
    if (!hosts) throw refuse("damaged results file: no 'hosts' attribute");
    hdr.hosts = *hosts;

    for (const char* name : {"runs", "curves", "vocab", "long_strings"})
      if (!h5::link_exists(file, name))
        throw refuse(std::string("damaged results file: no /") + name);
    h5::Handle runs = h5::open_dataset(file, "runs");
    h5::Handle have = h5::dataset_type(runs, "/runs");
    h5::Handle want = layout::runs_file_type();
    if (!h5::types_equal(have, want))
      throw refuse("/runs does not have the columns of results schema " +
                   std::to_string(kResultsSchemaVersion) + " (" + describe_type_difference(have) +
                   ")");
    dataset_rows(runs, "/runs");
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind(path + ": ", 0) == 0) throw;
    throw refuse(msg);
  }
  return file;
}

std::vector<layout::LongString> read_long_strings(hid_t file) {
  h5::Handle ds = h5::open_dataset(file, "long_strings");
  int64_t n = dataset_rows(ds, "/long_strings");
  std::vector<layout::LongString> out;
  if (n == 0) return out;
  h5::Handle mtype = layout::long_strings_memory_type();
  std::vector<layout::LongStringMem> buf(static_cast<size_t>(n));
  h5::read_all(ds, mtype, buf.data(), "/long_strings");
  for (auto& e : buf)
    out.push_back({std::string(e.run_id, strnlen(e.run_id, sizeof e.run_id)),
                   std::string(e.column, strnlen(e.column, sizeof e.column)),
                   e.value ? e.value : ""});
  h5::reclaim_vlen(ds, mtype, buf.data());
  return out;
}

std::vector<CurvePoint> read_curve_from(hid_t file, const std::string& run_id) {
  std::string name = "curves/" + run_id;
  std::vector<CurvePoint> out;
  if (!h5::link_exists(file, name)) return out;  // a run without evaluations has no curve
  h5::Handle ds = h5::open_dataset(file, name);
  out.resize(size_t(dataset_rows(ds, "/" + name)));
  if (out.empty()) return out;
  h5::Handle mtype = layout::curve_memory_type();
  h5::read_all(ds, mtype, out.data(), "/" + name);
  return out;
}

Vocabulary read_vocab_from(hid_t file, const std::string& name) {
  const std::string path = "vocab/" + name;
  h5::Handle ds = h5::open_dataset(file, path);
  Vocabulary v;
  auto kind = h5::read_attr_string(ds, "kind");
  if (!kind || !parse_enum(*kind, v.kind))
    throw Error("/" + path + ": missing or unknown 'kind' attribute");
  dataset_rows(ds, "/" + path);  // one-dimensional
  v.tokens = h5::read_byte_strings(file, path);
  return v;
}

void create_empty_file(const std::string& path, const Header& hdr) {
  h5::Handle file = h5::create_file(path);
  h5::write_attr_string(file, "format", kResultsFormat);
  h5::write_attr_int(file, "schema_version", kResultsSchemaVersion);
  h5::write_attr_string(file, "tinyfront_version", TINYFRONT_VERSION);
  h5::write_attr_string(file, "git_commit", TINYFRONT_GIT_COMMIT);
  h5::write_attr_string(file, "spec", hdr.spec);
  h5::write_attr_string(file, "created_at", hdr.created_at);
  h5::write_attr_string(file, "updated_at", hdr.updated_at);
  h5::write_attr_strings(file, "hosts", hdr.hosts);
  h5::write_attr_string(file, "file_id", hdr.file_id);
  h5::write_attr_int(file, "journal_generation", hdr.generation);
  h5::Handle dcpl = h5::chunked_plist(kChunkRows, kDeflateLevel);
  h5::Handle ftype = layout::runs_file_type();
  h5::create_table(file, "runs", ftype, 0, dcpl);
  h5::create_group(file, "curves");
  h5::create_group(file, "vocab");
  write_long_strings(file, {});
  file.close("close " + path);
}

void publish_empty_file(const std::string& path, const Header& hdr) {
  fsio::write_atomically(path, fsio::Publish::no_clobber,
                         [&](const std::string& tmp) { create_empty_file(tmp, hdr); });
}

std::vector<RunSummaryRow> read_run_summaries(hid_t file, const std::string& path) {
  h5::Handle ds = h5::open_dataset(file, "runs");
  const int64_t n = dataset_rows(ds, "/runs");
  std::vector<char> buf(size_t(n) * layout::kSummarySize);
  if (n > 0) {
    h5::Handle mtype = layout::runs_summary_memory_type();
    h5::read_all(ds, mtype, buf.data(), path + ": /runs");
  }
  std::vector<RunSummaryRow> out(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const char* p = buf.data() + size_t(i) * layout::kSummarySize;
    out[size_t(i)] = {std::string(p, strnlen(p, 16)), std::string(p + 16, strnlen(p + 16, 16))};
  }
  return out;
}

namespace {
// Packs the changed rows into /runs: in place for runs it holds, appended for new ones. Sets each
// change's assigned_row; appends the values too long for their columns to `overflow`.
void write_runs(hid_t file, std::vector<RunChange>& runs,
                std::vector<layout::LongString>& overflow) {
  const auto& L = layout::runs_layout();
  h5::Handle ds = h5::open_dataset(file, "runs");
  const int64_t nrows = dataset_rows(ds, "/runs");
  h5::Handle mtype = layout::runs_memory_type();
  std::vector<char> updated, appended;
  std::vector<hsize_t> coords;
  int64_t added = 0;
  for (auto& rc : runs) {
    std::vector<char>& buf = rc.existing_row >= 0 ? updated : appended;
    buf.resize(buf.size() + L.row_size);
    layout::pack_row(*rc.row, buf.data() + buf.size() - L.row_size, overflow);
    if (rc.existing_row >= 0) {
      coords.push_back(hsize_t(rc.existing_row));
      rc.assigned_row = rc.existing_row;
    } else {
      rc.assigned_row = nrows + added++;
    }
  }
  h5::write_rows_at(ds, mtype, coords, updated.data(), "/runs");
  h5::append_rows(ds, mtype, hsize_t(nrows), hsize_t(added), appended.data(), "/runs");
}
}  // namespace

void apply_changes(hid_t file, std::vector<RunChange>& runs,
                   const std::vector<const PendingVocab*>& vocabs) {
  std::vector<layout::LongString> overflow;
  write_runs(file, runs, overflow);

  // Long strings of the changed runs are replaced by theirs (possibly none).
  std::unordered_set<std::string> changed;
  for (auto& rc : runs) changed.insert(layout::row_run_id(*rc.row));
  std::vector<layout::LongString> longs = read_long_strings(file);
  size_t before = longs.size();
  longs.erase(std::remove_if(longs.begin(), longs.end(),
                             [&](const layout::LongString& s) { return changed.count(s.run_id); }),
              longs.end());
  if (longs.size() != before || !overflow.empty()) {
    longs.insert(longs.end(), overflow.begin(), overflow.end());
    write_long_strings(file, longs);
  }

  h5::Handle curves = h5::open_group(file, "curves");
  h5::Handle cftype = layout::curve_file_type(), cmtype = layout::curve_memory_type();
  for (auto& rc : runs) write_curve(curves, cftype, cmtype, layout::row_run_id(*rc.row), *rc.curve);

  for (auto* v : vocabs) write_vocab(file, v->name, v->vocab);
}

void write_fold_attrs(hid_t file, const std::set<std::string>& hosts, int64_t generation) {
  h5::write_attr_string(file, "updated_at", now_iso8601());
  h5::write_attr_strings(file, "hosts", std::vector<std::string>(hosts.begin(), hosts.end()));
  h5::write_attr_int(file, "journal_generation", generation);
}

}  // namespace tinyfront::snapshot
