#include "h5.hpp"

#include <cstring>
#include <mutex>

#include "tinyfront/util/error.hpp"

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

Handle fixed_string_type(size_t width) {
  Handle t = type_handle(H5Tcopy(H5T_C_S1), "create string type");
  check_status(H5Tset_size(t, width), "set string size");
  // NUL padding lets a value use the full width (NULLTERM would reserve a byte for the
  // terminator); numpy's 'S' dtype has the same null-padded meaning.
  check_status(H5Tset_strpad(t, H5T_STR_NULLPAD), "set string padding");
  check_status(H5Tset_cset(t, H5T_CSET_UTF8), "set string character set");
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

// Reads a string attribute of any HDF5 string flavour (fixed or variable length) into strings.
std::vector<std::string> read_strings(hid_t attr, const std::string& name) {
  Handle ftype = type_handle(H5Aget_type(attr), "read type of attribute '" + name + "'");
  if (H5Tget_class(ftype) != H5T_STRING) throw Error("attribute '" + name + "' is not a string");
  Handle space = space_handle(H5Aget_space(attr), "read shape of attribute '" + name + "'");
  hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) fail("read shape of attribute '" + name + "'");
  std::vector<std::string> out;
  if (H5Tis_variable_str(ftype) > 0) {
    Handle mtype = vlen_string_type(H5Tget_cset(ftype) == H5T_CSET_UTF8);
    std::vector<char*> ptrs(size_t(n), nullptr);
    check_status(H5Aread(attr, mtype, ptrs.data()), "read attribute '" + name + "'");
    for (char* p : ptrs) out.emplace_back(p ? p : "");
    H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, ptrs.data());
  } else {
    size_t width = H5Tget_size(ftype);
    Handle mtype = fixed_string_type(width);
    std::vector<char> buf(size_t(n) * width);
    check_status(H5Aread(attr, mtype, buf.data()), "read attribute '" + name + "'");
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
  auto v = read_strings(attr, name);
  if (v.size() != 1) throw Error("attribute '" + name + "' is not a single string");
  return v[0];
}

std::optional<std::vector<std::string>> read_attr_strings(hid_t obj, const std::string& name) {
  if (!attr_exists(obj, name)) return std::nullopt;
  Handle attr =
      attr_handle(H5Aopen(obj, name.c_str(), H5P_DEFAULT), "open attribute '" + name + "'");
  return read_strings(attr, name);
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
