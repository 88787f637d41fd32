// The results store: HDF5 snapshot + journal. See include/tinyfront/store/results_file.hpp for
// the crash-safety design and docs/results-schema.md for the file layout.
#include "tinyfront/store/results_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>
#include <functional>
#include <ostream>
#include <random>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "fsio.hpp"
#include "h5.hpp"
#include "journal.hpp"
#include "layout.hpp"
#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"
#include "tinyfront/util/system.hpp"
#include "tinyfront/version.hpp"

namespace tinyfront {

namespace {

using layout::Row;
using nlohmann::json;

constexpr hsize_t kChunkRows = 64;  // ~90 KiB of /runs per chunk
constexpr unsigned kDeflateLevel = 4;
constexpr size_t kCompactCurveBytes = 16 * 1024;  // smaller curves live in the object header
constexpr hsize_t kReadBlockRows = 4096;          // rows per H5Dread when scanning /runs
const char* const kTmpSuffix = ".tinyfront-tmp";

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

void remove_quietly(const std::string& path) {
  ::unlink(path.c_str());
}

// ---- journal records ----

struct PendingRun {
  Row row;
  std::vector<CurvePoint> curve;
};
struct PendingVocab {
  std::string name;
  Vocabulary vocab;
};
using Entry = std::variant<PendingRun, PendingVocab>;

std::string encode_run(const Row& row, const std::vector<CurvePoint>& curve) {
  json j = json::object();
  j["type"] = "run";
  j["row"] = layout::row_to_json(row);
  j["curve"] = layout::curve_to_json(curve);
  return j.dump();
}

std::string encode_vocab(const std::string& name, const Vocabulary& v) {
  json tokens = json::array();
  for (auto& t : v.tokens) tokens.push_back(layout::armor(json(t)));
  json j = json::object();
  j["type"] = "vocab";
  j["name"] = layout::armor(json(name));
  j["kind"] = to_string(v.kind);
  j["tokens"] = std::move(tokens);
  return j.dump();
}

Entry decode_entry(const std::string& payload, const std::string& jpath) {
  try {
    json j = json::parse(payload);
    const std::string type = j.at("type").get<std::string>();
    if (type == "run")
      return PendingRun{layout::row_from_json(j.at("row")), layout::curve_from_json(j.at("curve"))};
    if (type == "vocab") {
      PendingVocab v;
      v.name = layout::unarmor(j.at("name")).get<std::string>();
      if (!parse_enum(j.at("kind").get<std::string>(), v.vocab.kind))
        throw Error("unknown vocabulary kind");
      for (auto& t : j.at("tokens"))
        v.vocab.tokens.push_back(layout::unarmor(t).get<std::string>());
      return v;
    }
    throw Error("unknown record type '" + type + "'");
  } catch (const std::exception& e) {
    // The checksum matched, so this is not a torn write: refuse rather than drop results.
    throw Error(jpath + ": a complete journal record cannot be read (" + e.what() +
                "); the journal was written by another tinyfront version or damaged");
  }
}

uint64_t vocab_fingerprint(const Vocabulary& v) {
  uint64_t h = 0xcbf29ce484222325ull;
  auto mix = [&h](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      h ^= static_cast<const unsigned char*>(p)[i];
      h *= 0x100000001b3ull;
    }
  };
  int kind = int(v.kind);
  mix(&kind, sizeof kind);
  for (auto& t : v.tokens) {
    uint64_t n = t.size();
    mix(&n, sizeof n);
    mix(t.data(), t.size());
  }
  return h;
}

void check_vocab(const std::string& name, const Vocabulary& v) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
      name.find('\0') != std::string::npos)
    throw Error("results store: vocabulary name '" + name +
                "' cannot name an HDF5 dataset (empty, '.', '..' or containing '/')");
  for (size_t i = 0; i < v.tokens.size(); ++i)
    if (v.tokens[i].find('\0') != std::string::npos)
      throw Error("results store: vocabulary " + name + ": token " + std::to_string(i) +
                  " contains a NUL byte, which HDF5 strings cannot hold");
}

// ---- the HDF5 snapshot ----

struct Header {
  std::string tinyfront_version, git_commit, spec, created_at, updated_at, file_id;
  int64_t schema_version = 0, generation = 0;
  std::vector<std::string> hosts;
};

int64_t dataset_rows(hid_t ds, const std::string& what) {
  h5::Handle space = h5::space_handle(H5Dget_space(ds), "read the shape of " + what);
  hsize_t dims[1] = {0};
  if (H5Sget_simple_extent_ndims(space) != 1) throw Error(what + " is not one-dimensional");
  h5::check_status(H5Sget_simple_extent_dims(space, dims, nullptr), "read the shape of " + what);
  return int64_t(dims[0]);
}

// Why a /runs type differs from this schema's, for the refusal message.
std::string describe_type_difference(hid_t have) {
  if (H5Tget_class(have) != H5T_COMPOUND) return "it is not a compound type";
  const auto& L = layout::runs_layout();
  int n = H5Tget_nmembers(have);
  for (int i = 0; i < n && size_t(i) < L.columns.size(); ++i) {
    char* name = H5Tget_member_name(have, unsigned(i));
    std::string s = name ? name : "";
    H5free_memory(name);
    if (s != L.columns[size_t(i)].name)
      return "column " + std::to_string(i) + " is '" + s + "', expected '" +
             L.columns[size_t(i)].name + "'";
  }
  if (size_t(n) != L.columns.size())
    return std::to_string(n) + " columns, expected " + std::to_string(L.columns.size());
  return "a column has another type or width";
}

// Opens a results file read-only and checks it is one of ours, of this schema version.
// Nothing is written. Throws Error("<path>: <reason>").
h5::Handle open_snapshot(const std::string& path, Header& hdr) {
  h5::init();
  auto refuse = [&](const std::string& why) { return Error(path + ": " + why); };
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    throw refuse(std::string("cannot open: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw refuse("not a regular file");
  htri_t is_h5 = H5Fis_hdf5(path.c_str());
  if (is_h5 <= 0) {
    h5::error_stack_text();  // clear
    throw refuse("not a tinyfront results file: not an HDF5 file (no HDF5 signature)");
  }
  h5::Handle fapl = h5::file_access_plist();
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  if (id < 0)
    throw refuse("cannot be opened as HDF5 (truncated or damaged?): " + h5::error_stack_text());
  h5::Handle file(id, H5Fclose);
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
    h5::Handle runs = h5::dataset_handle(H5Dopen2(file, "runs", H5P_DEFAULT), "open /runs");
    h5::Handle have = h5::type_handle(H5Dget_type(runs), "read the type of /runs");
    h5::Handle want = layout::runs_file_type();
    if (H5Tequal(have, want) <= 0)
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
  h5::Handle ds =
      h5::dataset_handle(H5Dopen2(file, "long_strings", H5P_DEFAULT), "open /long_strings");
  int64_t n = dataset_rows(ds, "/long_strings");
  std::vector<layout::LongString> out;
  if (n == 0) return out;
  h5::Handle mtype = layout::long_strings_memory_type();
  std::vector<layout::LongStringMem> buf(static_cast<size_t>(n));
  h5::check_status(H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()),
                   "read /long_strings");
  for (auto& e : buf)
    out.push_back({std::string(e.run_id, strnlen(e.run_id, sizeof e.run_id)),
                   std::string(e.column, strnlen(e.column, sizeof e.column)),
                   e.value ? e.value : ""});
  h5::Handle space = h5::space_handle(H5Dget_space(ds), "read the shape of /long_strings");
  H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf.data());
  return out;
}

void write_long_strings(hid_t file, const std::vector<layout::LongString>& v) {
  if (h5::link_exists(file, "long_strings"))
    h5::check_status(H5Ldelete(file, "long_strings", H5P_DEFAULT), "replace /long_strings");
  hsize_t dims[1] = {v.size()};
  h5::Handle space = h5::space_handle(H5Screate_simple(1, dims, nullptr), "shape /long_strings");
  h5::Handle ftype = layout::long_strings_file_type();
  h5::Handle ds = h5::dataset_handle(
      H5Dcreate2(file, "long_strings", ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      "create /long_strings");
  if (v.empty()) return;
  std::vector<layout::LongStringMem> buf(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    std::memset(&buf[i], 0, sizeof buf[i]);
    std::memcpy(buf[i].run_id, v[i].run_id.data(), std::min(v[i].run_id.size(), size_t(16)));
    std::memcpy(buf[i].column, v[i].column.data(), std::min(v[i].column.size(), size_t(64)));
    buf[i].value = v[i].value.c_str();
  }
  h5::Handle mtype = layout::long_strings_memory_type();
  h5::check_status(H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()),
                   "write /long_strings");
}

std::vector<std::string> list_group(hid_t file, const char* group) {
  h5::Handle g =
      h5::group_handle(H5Gopen2(file, group, H5P_DEFAULT), std::string("open /") + group);
  H5G_info_t info;
  h5::check_status(H5Gget_info(g, &info), std::string("list /") + group);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t len =
        H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) h5::fail(std::string("list /") + group);
    std::string name(size_t(len) + 1, '\0');
    H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                       H5P_DEFAULT);
    name.resize(size_t(len));
    names.push_back(name);
  }
  return names;
}

std::vector<CurvePoint> read_curve_from(hid_t file, const std::string& run_id) {
  std::string name = "curves/" + run_id;
  std::vector<CurvePoint> out;
  if (!h5::link_exists(file, name)) return out;  // a run without evaluations has no curve
  h5::Handle ds = h5::dataset_handle(H5Dopen2(file, name.c_str(), H5P_DEFAULT), "open /" + name);
  out.resize(size_t(dataset_rows(ds, "/" + name)));
  if (out.empty()) return out;
  h5::Handle mtype = layout::curve_memory_type();
  h5::check_status(H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()), "read /" + name);
  return out;
}

void write_curve(hid_t group, hid_t ftype, hid_t mtype, const std::string& run_id,
                 const std::vector<CurvePoint>& curve) {
  if (h5::link_exists(group, run_id))
    h5::check_status(H5Ldelete(group, run_id.c_str(), H5P_DEFAULT), "replace /curves/" + run_id);
  if (curve.empty()) return;
  hsize_t dims[1] = {curve.size()};
  h5::Handle space = h5::space_handle(H5Screate_simple(1, dims, nullptr), "shape a curve");
  h5::Handle dcpl = h5::plist_handle(H5Pcreate(H5P_DATASET_CREATE), "curve properties");
  if (curve.size() * sizeof(CurvePoint) <= kCompactCurveBytes)
    h5::check_status(H5Pset_layout(dcpl, H5D_COMPACT), "curve layout");
  h5::Handle ds = h5::dataset_handle(
      H5Dcreate2(group, run_id.c_str(), ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
      "create /curves/" + run_id);
  h5::check_status(H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, curve.data()),
                   "write /curves/" + run_id);
}

Vocabulary read_vocab_from(hid_t file, const std::string& name) {
  std::string path = "vocab/" + name;
  h5::Handle ds = h5::dataset_handle(H5Dopen2(file, path.c_str(), H5P_DEFAULT), "open /" + path);
  Vocabulary v;
  auto kind = h5::read_attr_string(ds, "kind");
  if (!kind || !parse_enum(*kind, v.kind))
    throw Error("/" + path + ": missing or unknown 'kind' attribute");
  int64_t n = dataset_rows(ds, "/" + path);
  if (n == 0) return v;
  h5::Handle ftype = h5::type_handle(H5Dget_type(ds), "read the type of /" + path);
  h5::Handle mtype = h5::vlen_string_type(H5Tget_cset(ftype) == H5T_CSET_UTF8);
  std::vector<char*> ptrs(size_t(n), nullptr);
  h5::check_status(H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), "read /" + path);
  for (char* p : ptrs) v.tokens.emplace_back(p ? p : "");
  h5::Handle space = h5::space_handle(H5Dget_space(ds), "read the shape of /" + path);
  H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, ptrs.data());
  return v;
}

void write_vocab(hid_t file, const std::string& name, const Vocabulary& v) {
  std::string path = "vocab/" + name;
  if (h5::link_exists(file, path))
    h5::check_status(H5Ldelete(file, path.c_str(), H5P_DEFAULT), "replace /" + path);
  // Variable-length strings: word tokens have any length. Character-set UTF-8 when every token
  // is valid UTF-8 (so h5py's .asstr() decodes them); byte tokens of a chars vocabulary of a
  // non-ASCII corpus are not, and are marked ASCII (read them as bytes).
  bool utf8 = std::all_of(v.tokens.begin(), v.tokens.end(), layout::is_utf8);
  h5::Handle type = h5::vlen_string_type(utf8);
  hsize_t dims[1] = {v.tokens.size()};
  h5::Handle space = h5::space_handle(H5Screate_simple(1, dims, nullptr), "shape /" + path);
  h5::Handle ds = h5::dataset_handle(
      H5Dcreate2(file, path.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      "create /" + path);
  h5::write_attr_string(ds, "kind", to_string(v.kind));
  if (v.tokens.empty()) return;
  std::vector<const char*> ptrs;
  for (auto& t : v.tokens) ptrs.push_back(t.c_str());
  h5::check_status(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()),
                   "write /" + path);
}

// A new, empty results file at `path` (a temporary name: callers publish it by rename/link).
void create_empty_file(const std::string& path, const Header& hdr) {
  h5::Handle fapl = h5::file_access_plist();
  h5::Handle file =
      h5::file_handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "create " + path);
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

  hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {kChunkRows};
  h5::Handle space = h5::space_handle(H5Screate_simple(1, dims, maxdims), "shape /runs");
  h5::Handle dcpl = h5::plist_handle(H5Pcreate(H5P_DATASET_CREATE), "/runs properties");
  h5::check_status(H5Pset_chunk(dcpl, 1, chunk), "chunk /runs");
  // Shuffle groups byte i of every row of a chunk together; with deflate the fixed-width string
  // padding and the repeated config values then cost almost nothing.
  if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
    h5::check_status(H5Pset_shuffle(dcpl), "shuffle /runs");
    h5::check_status(H5Pset_deflate(dcpl, kDeflateLevel), "compress /runs");
  }
  h5::Handle ftype = layout::runs_file_type();
  h5::Handle runs = h5::dataset_handle(
      H5Dcreate2(file, "runs", ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT), "create /runs");
  h5::group_handle(H5Gcreate2(file, "curves", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                   "create /curves");
  h5::group_handle(H5Gcreate2(file, "vocab", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                   "create /vocab");
  write_long_strings(file, {});
  runs.reset();
  file.close("close " + path);
}

struct RunChange {
  const Row* row;
  const std::vector<CurvePoint>* curve;
  int64_t existing_row;  // -1: a new run
  int64_t assigned_row = -1;
};

// Writes runs (updating rows in place or appending), their curves and long strings, and
// vocabularies into an open, writable results file.
void apply_changes(hid_t file, std::vector<RunChange>& runs,
                   const std::vector<const PendingVocab*>& vocabs) {
  const auto& L = layout::runs_layout();
  h5::Handle ds = h5::dataset_handle(H5Dopen2(file, "runs", H5P_DEFAULT), "open /runs");
  const int64_t nrows = dataset_rows(ds, "/runs");
  h5::Handle mtype = layout::runs_memory_type();

  std::vector<layout::LongString> overflow;
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
  if (!coords.empty()) {
    h5::Handle fspace = h5::space_handle(H5Dget_space(ds), "select rows of /runs");
    h5::check_status(H5Sselect_elements(fspace, H5S_SELECT_SET, coords.size(), coords.data()),
                     "select rows of /runs");
    hsize_t n[1] = {coords.size()};
    h5::Handle mspace = h5::space_handle(H5Screate_simple(1, n, nullptr), "shape rows");
    h5::check_status(H5Dwrite(ds, mtype, mspace, fspace, H5P_DEFAULT, updated.data()),
                     "update rows of /runs");
  }
  if (added > 0) {
    hsize_t size[1] = {hsize_t(nrows + added)};
    h5::check_status(H5Dset_extent(ds, size), "extend /runs");
    h5::Handle fspace = h5::space_handle(H5Dget_space(ds), "select rows of /runs");
    hsize_t start[1] = {hsize_t(nrows)}, count[1] = {hsize_t(added)};
    h5::check_status(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr),
                     "select rows of /runs");
    h5::Handle mspace = h5::space_handle(H5Screate_simple(1, count, nullptr), "shape rows");
    h5::check_status(H5Dwrite(ds, mtype, mspace, fspace, H5P_DEFAULT, appended.data()),
                     "append rows to /runs");
  }

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

  h5::Handle curves = h5::group_handle(H5Gopen2(file, "curves", H5P_DEFAULT), "open /curves");
  h5::Handle cftype = layout::curve_file_type(), cmtype = layout::curve_memory_type();
  for (auto& rc : runs) write_curve(curves, cftype, cmtype, layout::row_run_id(*rc.row), *rc.curve);

  for (auto* v : vocabs) write_vocab(file, v->name, v->vocab);
}

void write_fold_attrs(hid_t file, const std::set<std::string>& hosts, int64_t generation) {
  h5::write_attr_string(file, "updated_at", now_iso8601());
  h5::write_attr_strings(file, "hosts", std::vector<std::string>(hosts.begin(), hosts.end()));
  h5::write_attr_int(file, "journal_generation", generation);
}

// ---- the journal beside the file ----

struct JournalState {
  bool present = false;
  bool applies = false;  // same generation as the snapshot: its records are not in the file yet
  journal::Contents contents;
  std::vector<Entry> entries;
};

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
    for (auto& p : js.contents.payloads) js.entries.push_back(decode_entry(p, jpath));
  return js;
}

// A read-only view: the validated snapshot and the journal records on top of it. The journal is
// opened before the snapshot: a writer renames the new snapshot before the new journal, so this
// order never pairs a newer journal with an older snapshot.
struct View {
  std::string path;
  Header hdr;
  h5::Handle file;
  JournalState journal;
};

View open_view(const std::string& path) {
  h5::init();
  std::string jpath = journal_path_of(path);
  fsio::Fd jfd = fsio::open_read_if_exists(jpath);
  std::string jbytes = jfd ? fsio::read_all(jfd.get(), jpath) : std::string();
  View v;
  v.path = path;
  v.file = open_snapshot(path, v.hdr);
  v.journal = load_journal(jpath, jbytes, bool(jfd), v.hdr);
  return v;
}

// The journal's latest record per run id (later records supersede earlier ones).
struct JournalRuns {
  std::vector<std::string> order;  // first appearance
  std::unordered_map<std::string, const PendingRun*> latest;
};

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

// Calls f(row, journal_curve) for the latest record of every run: the file's rows in order
// (replaced by the journal's when it has a newer one), then runs only in the journal.
// journal_curve is null when the curve is in the file.
void for_each_latest(View& v,
                     const std::function<void(const Row&, const std::vector<CurvePoint>*)>& f) {
  JournalRuns jr = journal_runs(v.journal);
  std::unordered_map<std::string, std::vector<std::pair<std::string, std::string>>> longs;
  for (auto& s : read_long_strings(v.file)) longs[s.run_id].emplace_back(s.column, s.value);
  const auto& L = layout::runs_layout();

  h5::Handle ds = h5::dataset_handle(H5Dopen2(v.file, "runs", H5P_DEFAULT), "open /runs");
  const int64_t n = dataset_rows(ds, "/runs");
  h5::Handle mtype = layout::runs_memory_type();
  std::vector<char> buf;
  std::unordered_set<std::string> seen;
  seen.reserve(size_t(n));
  for (int64_t at = 0; at < n; at += int64_t(kReadBlockRows)) {
    hsize_t start[1] = {hsize_t(at)},
            count[1] = {std::min<hsize_t>(kReadBlockRows, hsize_t(n - at))};
    h5::Handle fspace = h5::space_handle(H5Dget_space(ds), "select rows of /runs");
    h5::check_status(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr),
                     "select rows of /runs");
    h5::Handle mspace = h5::space_handle(H5Screate_simple(1, count, nullptr), "shape rows");
    buf.resize(count[0] * L.row_size);
    h5::check_status(H5Dread(ds, mtype, mspace, fspace, H5P_DEFAULT, buf.data()),
                     v.path + ": read /runs");
    for (hsize_t i = 0; i < count[0]; ++i) {
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

// The latest vocabularies: the file's, replaced by the journal's.
std::vector<std::string> vocab_names(View& v) {
  std::vector<std::string> names = list_group(v.file, "vocab");
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
    return read_vocab_from(v.file, name);
  throw Error(v.path + ": no vocabulary named '" + name + "'");
}

}  // namespace

// ---- the writable store ----

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

  std::vector<PendingRun> pending;  // in the journal, not yet in the file
  std::vector<PendingVocab> pending_vocab;
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
  std::string tmp = jpath + kTmpSuffix;
  fsio::Fd fd(::open(tmp.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) fsio::fail_errno("create", tmp);
  if (!fsio::try_lock(fd.get())) throw Error(tmp + ": locked by another process");
  try {
    fsio::pwrite_all(fd.get(), journal::header_text(h), 0, tmp);
    fsio::fsync_fd(fd.get(), tmp);
    if (replace)
      fsio::replace_durably(tmp, jpath);
    else
      fsio::publish_no_clobber(tmp, jpath);
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
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
  std::vector<RunChange> changes;
  std::unordered_set<std::string> seen;
  for (auto& p : s.pending) {
    const std::string& id = layout::row_run_id(p.row);
    if (!seen.insert(id).second) continue;
    const PendingRun& latest = s.pending[last[id]];
    changes.push_back({&latest.row, &latest.curve, s.runs.at(id).row});
    s.hosts.insert(std::get<std::string>(latest.row[layout::runs_layout().find("host")]));
  }
  std::vector<const PendingVocab*> vocabs;
  for (auto& v : s.pending_vocab) vocabs.push_back(&v);
  s.hosts.insert(host_name());

  // Copy, change the copy, make it durable, rename it over the file. A crash before the rename
  // leaves the old file and the journal; after it, the new file (the journal is then stale).
  const std::string tmp = s.path + kTmpSuffix;
  try {
    fsio::copy_file(s.path, tmp);
    h5::Handle fapl = h5::file_access_plist();
    h5::Handle file = h5::file_handle(H5Fopen(tmp.c_str(), H5F_ACC_RDWR, fapl), "open " + tmp);
    apply_changes(file, changes, vocabs);
    write_fold_attrs(file, s.hosts, s.generation + 1);
    file.close("close " + tmp);
    fsio::fsync_file(tmp);
    fsio::replace_durably(tmp, s.path);
    note_snapshot(s);
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
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

void apply_entry(State& s, Entry&& e) {
  if (auto* r = std::get_if<PendingRun>(&e)) {
    RunStatus st = RunStatus::pending;
    parse_enum(layout::row_status(r->row), st);
    s.runs[layout::row_run_id(r->row)].status = st;
    s.pending.push_back(std::move(*r));
  } else {
    auto& v = std::get<PendingVocab>(e);
    s.vocabs[v.name] = vocab_fingerprint(v.vocab);
    s.pending_vocab.push_back(std::move(v));
  }
  note_pending(s);
}

}  // namespace

// Creates an empty results file at `path`, whole or not at all: written under a temporary name,
// synced, then linked into place only if `path` does not exist yet.
static void publish_empty_file(const std::string& path, const Header& hdr) {
  const std::string tmp = path + kTmpSuffix;
  try {
    create_empty_file(tmp, hdr);
    fsio::fsync_file(tmp);
    fsio::publish_no_clobber(tmp, path);
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
}

ResultsStore store_create(const std::string& path, const std::string& spec_text,
                          const StoreOptions& options) {
  h5::init();
  const std::string jpath = journal_path_of(path);
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
  Header hdr;
  hdr.spec = spec_text;
  hdr.created_at = hdr.updated_at = now_iso8601();
  hdr.file_id = new_file_id();
  hdr.generation = 1;
  hdr.hosts = {host_name()};

  publish_empty_file(path, hdr);
  ResultsStore store;
  store.state = std::make_unique<State>();
  State& s = *store.state;
  s.path = path;
  s.jpath = jpath;
  s.options = options;
  s.spec = spec_text;
  s.file_id = hdr.file_id;
  s.generation = hdr.generation;
  s.hosts.insert(hdr.hosts.begin(), hdr.hosts.end());
  s.fold_at_records = options.fold_every_records;
  journal::Header jh{s.file_id, s.generation};
  s.journal = start_journal(jpath, jh, false);
  s.journal_size = (long long)journal::header_text(jh).size();
  note_snapshot(s);
  return store;
}

ResultsStore store_open(const std::string& path, const StoreOptions& options) {
  h5::init();
  const std::string jpath = journal_path_of(path);
  // A read-only results file (mode 0444) is its owner's statement that it must not change, and
  // appending rewrites it (folds replace it by an updated copy). Refused before anything is
  // touched, even for root, whom the mode does not stop.
  check_may_write(
      path, {"results file", OutputKind::file, false, [](const std::string&) { return true; }});
  // Everything up to "validated" only reads (the journal is opened read-write for its lock,
  // but not written): a refused file is left byte for byte as it was.
  fsio::Fd jfd = open_locked_journal(jpath);
  std::string jbytes = jfd ? fsio::read_all(jfd.get(), jpath) : std::string();
  Header hdr;
  h5::Handle file = open_snapshot(path, hdr);
  JournalState js = load_journal(jpath, jbytes, bool(jfd), hdr);

  ResultsStore store;
  store.state = std::make_unique<State>();
  State& s = *store.state;
  s.path = path;
  s.jpath = jpath;
  s.options = options;
  s.spec = hdr.spec;
  s.file_id = hdr.file_id;
  s.generation = hdr.generation;
  s.hosts.insert(hdr.hosts.begin(), hdr.hosts.end());
  s.fold_at_records = options.fold_every_records;
  {
    // Run ids and statuses only: two 16-byte columns of /runs.
    h5::Handle ds = h5::dataset_handle(H5Dopen2(file, "runs", H5P_DEFAULT), "open /runs");
    const int64_t n = dataset_rows(ds, "/runs");
    std::vector<char> buf(size_t(n) * layout::kSummarySize);
    if (n > 0) {
      h5::Handle mtype = layout::runs_summary_memory_type();
      h5::check_status(H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()),
                       path + ": read /runs");
    }
    s.runs.reserve(size_t(n) + 1024);
    for (int64_t i = 0; i < n; ++i) {
      const char* p = buf.data() + size_t(i) * layout::kSummarySize;
      std::string id(p, strnlen(p, 16)), st(p + 16, strnlen(p + 16, 16));
      State::RunEntry e;
      e.row = i;
      if (!parse_enum(st, e.status))
        throw Error(path + ": damaged results file: run " + id + " has status '" + st + "'");
      if (!s.runs.emplace(id, e).second)
        throw Error(path + ": damaged results file: run " + id + " has two rows in /runs");
    }
    for (auto& name : list_group(file, "vocab"))
      s.vocabs[name] = vocab_fingerprint(read_vocab_from(file, name));
  }
  file.reset();

  // Validated. From here on the files may change.
  note_snapshot(s);
  remove_quietly(path + kTmpSuffix);
  remove_quietly(jpath + kTmpSuffix);
  for (auto& e : js.entries) apply_entry(s, std::move(e));
  s.journal_records = int64_t(s.pending.size());
  journal::Header jh{s.file_id, s.generation};
  if (!jfd) {
    // No journal (a crash right after creating the file): start one.
    s.journal = start_journal(jpath, jh, false);
    s.journal_size = (long long)journal::header_text(jh).size();
  } else if (!js.applies) {
    // Stale: already folded into the file. Start afresh.
    s.journal = start_journal(jpath, jh, true);
    s.journal_size = (long long)journal::header_text(jh).size();
  } else {
    s.journal = std::move(jfd);
    s.journal_size = (long long)js.contents.valid_bytes;
    if (js.contents.valid_bytes < js.contents.total_bytes) {
      // A torn last record (never reported done): cut it off so new records follow the last
      // good one. A crash before this is durable leaves the same torn tail: harmless.
      if (::ftruncate(s.journal.get(), s.journal_size) != 0) fsio::fail_errno("truncate", jpath);
      fsio::fsync_fd(s.journal.get(), jpath);
    }
  }
  return store;
}

ResultsStore store_rebuild_from_journal(const std::string& path, const std::string& spec_text,
                                        const StoreOptions& options) {
  h5::init();
  const std::string jpath = journal_path_of(path);
  if (fsio::exists(path)) throw Error(path + ": already exists; nothing to rebuild");
  if (spec_text.find('\0') != std::string::npos)
    throw Error(path + ": the spec text contains a NUL byte, which an HDF5 string cannot hold");
  check_may_write(path, {"results file", OutputKind::file, false, nullptr});  // its directory
  Header hdr;
  {
    // Locked while the new file is made, so that no other writer uses the journal meanwhile.
    fsio::Fd jfd = open_locked_journal(jpath);
    if (!jfd) throw Error(jpath + ": no such file: nothing to rebuild " + path + " from");
    const journal::Contents c = journal::parse(fsio::read_all(jfd.get(), jpath), jpath);
    for (auto& p : c.payloads) decode_entry(p, jpath);  // every record readable, or refuse
    // The journal applies to a snapshot of its own file id and generation: an empty one.
    hdr.spec = spec_text;
    hdr.created_at = hdr.updated_at = now_iso8601();
    hdr.file_id = c.header.file_id;
    hdr.generation = c.header.generation;
    hdr.hosts = {host_name()};
    publish_empty_file(path, hdr);
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
    frames += journal::frame(encode_run(rows.back(), record.result.curve));
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
  check_vocab(name, vocab);
  uint64_t fp = vocab_fingerprint(vocab);
  auto it = s.vocabs.find(name);
  if (it != s.vocabs.end()) {
    if (it->second == fp) return;
    throw Error(s.path + ": already holds a different vocabulary named '" + name +
                "'; refusing to replace it");
  }
  append_payload(s, encode_vocab(name, vocab));
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

// ---- reading ----

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
  h5::Handle ds = h5::dataset_handle(H5Dopen2(v.file, "runs", H5P_DEFAULT), "open /runs");
  const int64_t n = dataset_rows(ds, "/runs");
  std::vector<char> buf(size_t(n) * layout::kSummarySize);
  if (n > 0) {
    h5::Handle mtype = layout::runs_summary_memory_type();
    h5::check_status(H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data()),
                     path + ": read /runs");
  }
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
  for (int64_t i = 0; i < n; ++i) {
    const char* p = buf.data() + size_t(i) * layout::kSummarySize;
    std::string id(p, strnlen(p, 16));
    auto j = jr.latest.find(id);
    add(id, j != jr.latest.end() ? layout::row_status(j->second->row)
                                 : std::string(p + 16, strnlen(p + 16, 16)));
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
          journal_curve ? *journal_curve : read_curve_from(v.file, out.back().run_id);
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
  return read_curve_from(v.file, run_id);
}

Vocabulary store_read_vocab(const std::string& path, const std::string& name) {
  View v = open_view(path);
  return vocab_of(v, name);
}

void store_merge(const std::vector<std::string>& inputs, const std::string& out) {
  h5::init();
  if (inputs.empty()) throw Error("store_merge: no input files");
  if (fsio::exists(out))
    throw Error(out + ": already exists; refusing to overwrite it with merged results");
  if (fsio::exists(journal_path_of(out)))
    throw Error(journal_path_of(out) + ": a journal exists for the merge output; move it away");
  check_may_write(out, {"merge output", OutputKind::file, false, nullptr});  // its directory

  struct Candidate {
    Row row;
    std::vector<CurvePoint> curve;
  };
  const auto& L = layout::runs_layout();
  const size_t host_col = L.find("host"), finished_col = L.find("finished_at");
  // Deterministic choice among records of one run id from several files.
  auto better = [&](const Row& a, const Row& b) {
    bool a_done = layout::row_status(a) == "done", b_done = layout::row_status(b) == "done";
    if (a_done != b_done) return a_done;
    double fa = std::get<double>(a[finished_col]), fb = std::get<double>(b[finished_col]);
    if (fa != fb) return fa < fb;
    return std::get<std::string>(a[host_col]) < std::get<std::string>(b[host_col]);
  };

  std::string spec;
  std::set<std::string> hosts;
  std::vector<std::string> order;
  std::unordered_map<std::string, Candidate> best;
  std::vector<PendingVocab> vocabs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    View v = open_view(inputs[i]);
    if (i == 0)
      spec = v.hdr.spec;
    else if (v.hdr.spec != spec)
      throw Error("store_merge: " + inputs[i] + " was written for another spec than " + inputs[0] +
                  " (their spec texts differ); refusing to merge");
    hosts.insert(v.hdr.hosts.begin(), v.hdr.hosts.end());
    for_each_latest(v, [&](const Row& row, const std::vector<CurvePoint>* journal_curve) {
      const std::string& id = layout::row_run_id(row);
      auto it = best.find(id);
      if (it != best.end() && !better(row, it->second.row)) return;
      Candidate c{row, journal_curve ? *journal_curve : read_curve_from(v.file, id)};
      if (it == best.end()) {
        order.push_back(id);
        best.emplace(id, std::move(c));
      } else {
        it->second = std::move(c);
      }
    });
    for (auto& name : vocab_names(v)) {
      Vocabulary voc = vocab_of(v, name);
      auto same = std::find_if(vocabs.begin(), vocabs.end(),
                               [&](const PendingVocab& p) { return p.name == name; });
      if (same == vocabs.end())
        vocabs.push_back({name, std::move(voc)});
      else if (vocab_fingerprint(same->vocab) != vocab_fingerprint(voc))
        throw Error("store_merge: " + inputs[i] + " has another vocabulary '" + name +
                    "' than an earlier input; refusing to merge");
    }
  }

  Header hdr;
  hdr.spec = spec;
  hdr.created_at = hdr.updated_at = now_iso8601();
  hdr.file_id = new_file_id();
  hdr.generation = 1;
  hosts.insert(host_name());
  for (auto& id : order) hosts.insert(std::get<std::string>(best.at(id).row[host_col]));
  hdr.hosts.assign(hosts.begin(), hosts.end());

  std::vector<RunChange> changes;
  for (auto& id : order) changes.push_back({&best.at(id).row, &best.at(id).curve, -1});
  std::vector<const PendingVocab*> vptrs;
  for (auto& v : vocabs) vptrs.push_back(&v);

  const std::string tmp = out + kTmpSuffix;
  try {
    create_empty_file(tmp, hdr);
    h5::Handle fapl = h5::file_access_plist();
    h5::Handle file = h5::file_handle(H5Fopen(tmp.c_str(), H5F_ACC_RDWR, fapl), "open " + tmp);
    apply_changes(file, changes, vptrs);
    file.close("close " + tmp);
    fsio::fsync_file(tmp);
    fsio::publish_no_clobber(tmp, out);
  } catch (...) {
    remove_quietly(tmp);
    throw;
  }
}

void store_export_csv(const std::string& path, std::ostream& out) {
  View v = open_view(path);
  const auto& L = layout::runs_layout();
  for (size_t i = 0; i < L.columns.size(); ++i) out << (i ? "," : "") << L.columns[i].name;
  out << '\n';
  for_each_latest(v, [&](const Row& row, const std::vector<CurvePoint>*) {
    for (size_t i = 0; i < L.columns.size(); ++i)
      out << (i ? "," : "") << layout::csv_field(L.columns[i], row[i]);
    out << '\n';
  });
  if (!out) throw Error(path + ": writing the CSV export failed");
}

std::vector<std::string> store_columns() {
  std::vector<std::string> names;
  for (auto& c : layout::runs_layout().columns) names.push_back(c.name);
  return names;
}

}  // namespace tinyfront
