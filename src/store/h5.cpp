#include "h5.hpp"

#include <cstring>
#include <mutex>

#include "tinyfront/util/error.hpp"
#include "tinyfront/util/utf8.hpp"

namespace tinyfront::h5 {

void init() {
  static std::once_flag once;
  std::call_once(once, [] {
    H5open();
    // The store reports HDF5 failures as exceptions with a message of its own; HDF5's default
    // is to dump the whole stack to stderr, even for failures we expect and handle (probing).
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  });
}

namespace {
herr_t collect_error(unsigned, const H5E_error2_t* e, void* data) {
  auto* out = static_cast<std::vector<std::string>*>(data);
  if (e && e->desc && *e->desc) out->push_back(e->desc);
  return 0;
}
}  // namespace

std::string error_stack_text() {
  std::vector<std::string> msgs;  // innermost first
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, collect_error, &msgs);
  H5Eclear2(H5E_DEFAULT);
  if (msgs.empty()) return "unknown HDF5 error";
  // The innermost message is the cause ("truncated file: ..."), the outermost the operation that
  // failed ("unable to open file"); the ones between rarely add anything.
  if (msgs.size() == 1 || msgs.front() == msgs.back()) return msgs.front();
  return msgs.back() + ": " + msgs.front();
}

void fail(const std::string& what) {
  throw Error(what + " (HDF5: " + error_stack_text() + ")");
}

Handle file_handle(hid_t id, const std::string& what) {
  return {check(id, what), H5Fclose};
}
Handle group_handle(hid_t id, const std::string& what) {
  return {check(id, what), H5Gclose};
}
Handle dataset_handle(hid_t id, const std::string& what) {
  return {check(id, what), H5Dclose};
}
Handle type_handle(hid_t id, const std::string& what) {
  return {check(id, what), H5Tclose};
}
Handle space_handle(hid_t id, const std::string& what) {
  return {check(id, what), H5Sclose};
}
Handle attr_handle(hid_t id, const std::string& what) {
  return {check(id, what), H5Aclose};
}
Handle plist_handle(hid_t id, const std::string& what) {
  return {check(id, what), H5Pclose};
}

Handle file_access_plist() {
  Handle fapl = plist_handle(H5Pcreate(H5P_FILE_ACCESS), "create file access properties");
  check_status(H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18),
               "set HDF5 format bounds");
  check_status(H5Pset_file_locking(fapl, true, true), "set HDF5 file locking");
  // Strong close: H5Fclose really closes (and flushes) the file even if some object handle were
  // still open, so "closed" means "all bytes handed to the OS" before we fsync and rename.
  check_status(H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG), "set HDF5 close degree");
  return fapl;
}

bool link_exists(hid_t loc, const std::string& name) {
  htri_t r = H5Lexists(loc, name.c_str(), H5P_DEFAULT);
  check_status(r < 0 ? -1 : 0, "check for '" + name + "'");
  return r > 0;
}

bool attr_exists(hid_t obj, const std::string& name) {
  htri_t r = H5Aexists(obj, name.c_str());
  check_status(r < 0 ? -1 : 0, "check for attribute '" + name + "'");
  return r > 0;
}

bool is_hdf5(const std::string& path) {
  init();
  if (H5Fis_hdf5(path.c_str()) > 0) return true;
  error_stack_text();  // clear
  return false;
}

Handle create_file(const std::string& path) {
  init();
  Handle fapl = file_access_plist();
  return file_handle(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl), "create " + path);
}

Handle open_file(const std::string& path, bool writable) {
  init();
  Handle fapl = file_access_plist();
  return file_handle(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl),
                     "open " + path);
}

Handle try_open_file(const std::string& path, std::string* reason) {
  init();
  Handle fapl = file_access_plist();
  hid_t id = H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl);
  if (id < 0) {
    std::string why = error_stack_text();
    if (reason) *reason = why;
    return {};
  }
  return {id, H5Fclose};
}

Handle create_group(hid_t loc, const std::string& name) {
  return group_handle(H5Gcreate2(loc, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                      "create /" + name);
}

Handle open_group(hid_t loc, const std::string& name) {
  return group_handle(H5Gopen2(loc, name.c_str(), H5P_DEFAULT), "open /" + name);
}

Handle open_dataset(hid_t loc, const std::string& name) {
  return dataset_handle(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), "open /" + name);
}

void delete_link(hid_t loc, const std::string& name) {
  if (link_exists(loc, name))
    check_status(H5Ldelete(loc, name.c_str(), H5P_DEFAULT), "replace /" + name);
}

std::vector<std::string> list_group(hid_t loc, const std::string& group) {
  Handle g = open_group(loc, group);
  H5G_info_t info;
  check_status(H5Gget_info(g, &info), "list /" + group);
  std::vector<std::string> names;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    ssize_t len =
        H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    if (len < 0) fail("list /" + group);
    std::string name(size_t(len) + 1, '\0');
    H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size(),
                       H5P_DEFAULT);
    name.resize(size_t(len));
    names.push_back(name);
  }
  return names;
}

int64_t dataset_points(hid_t ds, const std::string& what) {
  Handle space = space_handle(H5Dget_space(ds), "read the shape of " + what);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) fail("read the shape of " + what);
  return int64_t(n);
}

int64_t dataset_rows(hid_t ds, const std::string& what) {
  Handle space = space_handle(H5Dget_space(ds), "read the shape of " + what);
  hsize_t dims[1] = {0};
  if (H5Sget_simple_extent_ndims(space) != 1) throw Error(what + " is not one-dimensional");
  check_status(H5Sget_simple_extent_dims(space, dims, nullptr), "read the shape of " + what);
  return int64_t(dims[0]);
}

void write_array(hid_t loc, const std::string& name, hid_t type, const void* data,
                 const std::vector<hsize_t>& dims) {
  Handle space =
      space_handle(H5Screate_simple(int(dims.size()), dims.data(), nullptr), "shape /" + name);
  Handle ds = dataset_handle(
      H5Dcreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      "create /" + name);
  hsize_t n = 1;
  for (hsize_t d : dims) n *= d;
  if (n > 0)
    check_status(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write /" + name);
}

void read_array(hid_t loc, const std::string& name, hid_t type, void* out, size_t n) {
  if (!link_exists(loc, name)) throw Error("no dataset /" + name);
  Handle ds = open_dataset(loc, name);
  const int64_t have = dataset_points(ds, "/" + name);
  if (have != int64_t(n))
    throw Error("/" + name + " has " + std::to_string(have) + " values, expected " +
                std::to_string(n));
  if (n > 0) check_status(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out), "read /" + name);
}

void write_byte_strings(hid_t loc, const std::string& name,
                        const std::vector<std::string>& values) {
  bool utf8 = true;
  for (auto& v : values) utf8 = utf8 && invalid_utf8_offset(v) == std::string_view::npos;
  Handle type = vlen_string_type(utf8);
  hsize_t dims[1] = {values.size()};
  Handle space = space_handle(H5Screate_simple(1, dims, nullptr), "shape /" + name);
  Handle ds = dataset_handle(
      H5Dcreate2(loc, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      "create /" + name);
  if (values.empty()) return;
  std::vector<const char*> ptrs;
  for (auto& v : values) ptrs.push_back(v.c_str());
  check_status(H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptrs.data()), "write /" + name);
}

Handle chunked_plist(hsize_t chunk_rows, unsigned deflate_level) {
  Handle dcpl = plist_handle(H5Pcreate(H5P_DATASET_CREATE), "create dataset properties");
  hsize_t chunk[1] = {chunk_rows};
  check_status(H5Pset_chunk(dcpl, 1, chunk), "set chunking");
  // Shuffle groups byte i of every row of a chunk together; with deflate the fixed-width string
  // padding and the repeated config values then cost almost nothing.
  if (H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
    check_status(H5Pset_shuffle(dcpl), "set shuffle filter");
    check_status(H5Pset_deflate(dcpl, deflate_level), "set deflate filter");
  }
  return dcpl;
}

Handle compact_plist() {
  Handle dcpl = plist_handle(H5Pcreate(H5P_DATASET_CREATE), "create dataset properties");
  check_status(H5Pset_layout(dcpl, H5D_COMPACT), "set compact layout");
  return dcpl;
}

Handle create_table(hid_t loc, const std::string& name, hid_t file_type, hsize_t rows, hid_t dcpl) {
  // A chunked layout is what makes a dataset growable: give it an unlimited maximum.
  const bool chunked = dcpl != H5P_DEFAULT && H5Pget_layout(dcpl) == H5D_CHUNKED;
  hsize_t dims[1] = {rows}, maxdims[1] = {chunked ? H5S_UNLIMITED : rows};
  Handle space = space_handle(H5Screate_simple(1, dims, maxdims), "shape /" + name);
  return dataset_handle(
      H5Dcreate2(loc, name.c_str(), file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
      "create /" + name);
}

void read_all(hid_t ds, hid_t mem_type, void* buf, const std::string& what) {
  check_status(H5Dread(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), "read " + what);
}

void write_all(hid_t ds, hid_t mem_type, const void* buf, const std::string& what) {
  check_status(H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), "write " + what);
}

void read_rows(hid_t ds, hid_t mem_type, hsize_t start, hsize_t count, void* buf,
               const std::string& what) {
  Handle fspace = space_handle(H5Dget_space(ds), "select rows of " + what);
  hsize_t st[1] = {start}, n[1] = {count};
  check_status(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, st, nullptr, n, nullptr),
               "select rows of " + what);
  Handle mspace = space_handle(H5Screate_simple(1, n, nullptr), "shape rows");
  check_status(H5Dread(ds, mem_type, mspace, fspace, H5P_DEFAULT, buf), "read " + what);
}

void write_rows_at(hid_t ds, hid_t mem_type, const std::vector<hsize_t>& rows, const void* buf,
                   const std::string& what) {
  if (rows.empty()) return;
  Handle fspace = space_handle(H5Dget_space(ds), "select rows of " + what);
  check_status(H5Sselect_elements(fspace, H5S_SELECT_SET, rows.size(), rows.data()),
               "select rows of " + what);
  hsize_t n[1] = {rows.size()};
  Handle mspace = space_handle(H5Screate_simple(1, n, nullptr), "shape rows");
  check_status(H5Dwrite(ds, mem_type, mspace, fspace, H5P_DEFAULT, buf), "update rows of " + what);
}

void append_rows(hid_t ds, hid_t mem_type, hsize_t have, hsize_t count, const void* buf,
                 const std::string& what) {
  if (count == 0) return;
  hsize_t size[1] = {have + count};
  check_status(H5Dset_extent(ds, size), "extend " + what);
  Handle fspace = space_handle(H5Dget_space(ds), "select rows of " + what);
  hsize_t start[1] = {have}, n[1] = {count};
  check_status(H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, n, nullptr),
               "select rows of " + what);
  Handle mspace = space_handle(H5Screate_simple(1, n, nullptr), "shape rows");
  check_status(H5Dwrite(ds, mem_type, mspace, fspace, H5P_DEFAULT, buf), "append rows to " + what);
}

void reclaim_vlen(hid_t ds, hid_t mem_type, void* buf) {
  Handle space = space_handle(H5Dget_space(ds), "read a dataset's shape");
  H5Dvlen_reclaim(mem_type, space, H5P_DEFAULT, buf);
}

Handle dataset_type(hid_t ds, const std::string& what) {
  return type_handle(H5Dget_type(ds), "read the type of " + what);
}

bool types_equal(hid_t a, hid_t b) {
  return H5Tequal(a, b) > 0;
}

bool is_compound(hid_t type) {
  return H5Tget_class(type) == H5T_COMPOUND;
}

std::vector<std::string> member_names(hid_t compound) {
  std::vector<std::string> out;
  int n = H5Tget_nmembers(compound);
  for (int i = 0; i < n; ++i) {
    char* name = H5Tget_member_name(compound, unsigned(i));
    out.emplace_back(name ? name : "");
    H5free_memory(name);
  }
  return out;
}

hid_t file_f64() {
  return H5T_IEEE_F64LE;
}
hid_t file_i64() {
  return H5T_STD_I64LE;
}
hid_t file_u64() {
  return H5T_STD_U64LE;
}
hid_t file_i8() {
  return H5T_STD_I8LE;
}

Handle compound_type(size_t size) {
  return type_handle(H5Tcreate(H5T_COMPOUND, size), "create compound type");
}

void add_member(hid_t compound, const std::string& name, size_t offset, hid_t type) {
  check_status(H5Tinsert(compound, name.c_str(), offset, type), "add member " + name);
}

Handle fixed_string_type(size_t width, bool utf8) {
  Handle t = type_handle(H5Tcopy(H5T_C_S1), "create string type");
  check_status(H5Tset_size(t, width), "set string size");
  // NUL padding lets a value use the full width (NULLTERM would reserve a byte for the
  // terminator); numpy's 'S' dtype has the same null-padded meaning.
  check_status(H5Tset_strpad(t, H5T_STR_NULLPAD), "set string padding");
  check_status(H5Tset_cset(t, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII), "set string character set");
  return t;
}

Handle vlen_string_type(bool utf8) {
  Handle t = type_handle(H5Tcopy(H5T_C_S1), "create string type");
  check_status(H5Tset_size(t, H5T_VARIABLE), "set string size");
  check_status(H5Tset_cset(t, utf8 ? H5T_CSET_UTF8 : H5T_CSET_ASCII), "set character set");
  return t;
}

namespace {
void remove_attr(hid_t obj, const std::string& name) {
  if (attr_exists(obj, name))
    check_status(H5Adelete(obj, name.c_str()), "delete attribute '" + name + "'");
}

// Reads a string attribute or dataset of any HDF5 string flavour (fixed or variable length,
// either character set) into strings, byte for byte. The memory type takes the file's character
// set: HDF5 does not convert between ASCII and UTF-8 strings.
std::vector<std::string> read_strings(hid_t obj, bool attribute, const std::string& what) {
  Handle ftype =
      type_handle(attribute ? H5Aget_type(obj) : H5Dget_type(obj), "read type of " + what);
  if (H5Tget_class(ftype) != H5T_STRING) throw Error(what + " is not a string");
  Handle space =
      space_handle(attribute ? H5Aget_space(obj) : H5Dget_space(obj), "read shape of " + what);
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) fail("read shape of " + what);
  const bool utf8 = H5Tget_cset(ftype) == H5T_CSET_UTF8;
  auto read = [&](hid_t mtype, void* buf) {
    herr_t s = attribute ? H5Aread(obj, mtype, buf)
                         : H5Dread(obj, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    check_status(s, "read " + what);
  };
  std::vector<std::string> out;
  if (n == 0) return out;
  if (H5Tis_variable_str(ftype) > 0) {
    Handle mtype = vlen_string_type(utf8);
    std::vector<char*> ptrs(size_t(n), nullptr);
    read(mtype, ptrs.data());
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, ptrs.data());
  } else {
    size_t width = H5Tget_size(ftype);
    Handle mtype = fixed_string_type(width, utf8);
    std::vector<char> buf(size_t(n) * width);
    read(mtype, buf.data());
    for (hssize_t i = 0; i < n; ++i) {
      const char* p = buf.data() + size_t(i) * width;
      out.emplace_back(p, strnlen(p, width));
    }
  }
  return out;
}
}  // namespace

void write_attr_strings(hid_t obj, const std::string& name, const std::vector<std::string>& v) {
  remove_attr(obj, name);
  Handle type = vlen_string_type();
  hsize_t dims[1] = {v.size()};
  Handle space = space_handle(H5Screate_simple(1, dims, nullptr), "create attribute shape");
  Handle attr = attr_handle(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                            "create attribute '" + name + "'");
  std::vector<const char*> ptrs;
  for (auto& s : v) ptrs.push_back(s.c_str());
  check_status(H5Awrite(attr, type, ptrs.data()), "write attribute '" + name + "'");
}

void write_attr_string(hid_t obj, const std::string& name, const std::string& value) {
  remove_attr(obj, name);
  // Variable length: h5py returns it as str, and a long spec text is not limited by the 64 KiB
  // attribute size (the characters live in the global heap).
  Handle type = vlen_string_type();
  Handle space = space_handle(H5Screate(H5S_SCALAR), "create attribute shape");
  Handle attr = attr_handle(H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
                            "create attribute '" + name + "'");
  const char* p = value.c_str();
  check_status(H5Awrite(attr, type, &p), "write attribute '" + name + "'");
}

void write_attr_int(hid_t obj, const std::string& name, int64_t value) {
  remove_attr(obj, name);
  Handle space = space_handle(H5Screate(H5S_SCALAR), "create attribute shape");
  Handle attr =
      attr_handle(H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT),
                  "create attribute '" + name + "'");
  check_status(H5Awrite(attr, H5T_NATIVE_INT64, &value), "write attribute '" + name + "'");
}

std::optional<std::string> read_attr_string(hid_t obj, const std::string& name) {
  if (!attr_exists(obj, name)) return std::nullopt;
  Handle attr =
      attr_handle(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "open attribute '" + name + "'");
  auto v = read_strings(attr, true, "attribute '" + name + "'");
  if (v.size() != 1) throw Error("attribute '" + name + "' is not a single string");
  return v[0];
}

std::optional<std::vector<std::string>> read_attr_strings(hid_t obj, const std::string& name) {
  if (!attr_exists(obj, name)) return std::nullopt;
  Handle attr =
      attr_handle(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "open attribute '" + name + "'");
  return read_strings(attr, true, "attribute '" + name + "'");
}

std::optional<int64_t> read_attr_int(hid_t obj, const std::string& name) {
  if (!attr_exists(obj, name)) return std::nullopt;
  Handle attr =
      attr_handle(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "open attribute '" + name + "'");
  Handle ftype = type_handle(H5Aget_type(attr), "read type of attribute '" + name + "'");
  Handle space = space_handle(H5Aget_space(attr), "read shape of attribute '" + name + "'");
  if (H5Tget_class(ftype) != H5T_INTEGER || H5Sget_simple_extent_npoints(space) != 1)
    throw Error("attribute '" + name + "' is not a single integer");
  int64_t v = 0;
  check_status(H5Aread(attr, H5T_NATIVE_INT64, &v), "read attribute '" + name + "'");
  return v;
}

}  // namespace tinyfront::h5

namespace tinyfront::h5 {

std::vector<std::string> read_byte_strings(hid_t loc, const std::string& name) {
  Handle ds = open_dataset(loc, name);
  return read_strings(ds, false, "/" + name);
}

}  // namespace tinyfront::h5
