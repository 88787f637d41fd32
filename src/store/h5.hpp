// The store's one HDF5 wrapper (private to src/store): the only code that calls the HDF5 C API.
// RAII handles, files, groups, typed datasets and attributes, byte-string datasets, compound
// types. The results file, checkpoints and weights files are all written through it.
//
// HDF5 reports errors by return value and, by default, prints its whole error stack to stderr.
// The store silences the printing once (h5_init) and turns every failed call into a
// tinyfront::Error that says what we were doing, on which file, and HDF5's innermost reason.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tinyfront::h5 {

// Silences HDF5's automatic error printing for the whole process. Idempotent, thread-safe.
void init();

// The innermost messages of HDF5's current error stack, e.g. "truncated file: eof = 96, ...".
std::string error_stack_text();

// Throws tinyfront::Error("<what>: <HDF5 reason>") when an HDF5 call failed (negative result).
[[noreturn]] void fail(const std::string& what);
inline hid_t check(hid_t id, const std::string& what) {
  if (id < 0) fail(what);
  return id;
}
inline void check_status(herr_t status, const std::string& what) {
  if (status < 0) fail(what);
}

// Owns one hid_t and the function that closes it. Movable, not copyable, so a handle is closed
// exactly once even when an exception unwinds through the store.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer close) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(std::exchange(o.id_, H5I_INVALID_HID)), close_(o.close_) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = std::exchange(o.id_, H5I_INVALID_HID);
      close_ = o.close_;
    }
    return *this;
  }
  ~Handle() { reset(); }

  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }  // handles are passed to the C API everywhere
  explicit operator bool() const { return id_ >= 0; }

  void reset() {
    if (id_ >= 0 && close_) close_(id_);
    id_ = H5I_INVALID_HID;
  }
  // Closes now and reports failure (a file close is where buffered data reaches the disk, so its
  // result matters; the destructor cannot report it).
  void close(const std::string& what) {
    if (id_ < 0) return;
    herr_t s = close_(id_);
    id_ = H5I_INVALID_HID;
    check_status(s, what);
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// Checked constructors: each throws on failure with `what` in the message.
Handle file_handle(hid_t id, const std::string& what);
Handle group_handle(hid_t id, const std::string& what);
Handle dataset_handle(hid_t id, const std::string& what);
Handle type_handle(hid_t id, const std::string& what);
Handle space_handle(hid_t id, const std::string& what);
Handle attr_handle(hid_t id, const std::string& what);
Handle plist_handle(hid_t id, const std::string& what);

// File access properties used for every file of the store: the 1.8 object format (large
// attributes, compact-or-indexed groups; readable by any HDF5 >= 1.8) and file locking that does
// not fail on file systems without flock (Lustre, some NFS).
Handle file_access_plist();

bool link_exists(hid_t loc, const std::string& name);
bool attr_exists(hid_t obj, const std::string& name);

// ---- files, groups, links ----

// An HDF5 signature at `path` (clears HDF5's error stack when there is none).
bool is_hdf5(const std::string& path);
// Creates (truncating) or opens a file with file_access_plist().
Handle create_file(const std::string& path);
Handle open_file(const std::string& path, bool writable);
// Read-only; an empty handle and HDF5's reason in *reason when the file cannot be opened.
Handle try_open_file(const std::string& path, std::string* reason);
Handle create_group(hid_t loc, const std::string& name);
Handle open_group(hid_t loc, const std::string& name);
Handle open_dataset(hid_t loc, const std::string& name);
void delete_link(hid_t loc, const std::string& name);  // a missing link is not an error
// The names of the links in a group, in name order.
std::vector<std::string> list_group(hid_t loc, const std::string& group);
// Points of a dataset's shape (all dimensions multiplied); rows of a 1-D dataset (throws if not
// 1-D). `what` names the dataset in errors.
int64_t dataset_points(hid_t ds, const std::string& what);
int64_t dataset_rows(hid_t ds, const std::string& what);

// ---- typed numeric datasets ----

// The native memory type of T; the file type is the same (native little-endian on the machines
// tinyfront runs on, and HDF5 converts on read elsewhere).
template <class T>
hid_t native_type();
template <>
inline hid_t native_type<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
inline hid_t native_type<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
inline hid_t native_type<int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
inline hid_t native_type<uint64_t>() {
  return H5T_NATIVE_UINT64;
}

// The standard little-endian file types of the results schema's numeric columns.
hid_t file_f64();
hid_t file_i64();
hid_t file_u64();
hid_t file_i8();
template <>
inline hid_t native_type<int8_t>() {
  return H5T_NATIVE_INT8;
}

// A new dataset `name` of `dims` (1-D or 2-D) holding data (row-major, product(dims) values).
void write_array(hid_t loc, const std::string& name, hid_t type, const void* data,
                 const std::vector<hsize_t>& dims);
template <class T>
void write_dataset(hid_t loc, const std::string& name, const T* data,
                   const std::vector<hsize_t>& dims) {
  write_array(loc, name, native_type<T>(), data, dims);
}
// Reads all of dataset `name` into `out`, which must hold exactly `n` values (throws naming the
// dataset if its size differs).
void read_array(hid_t loc, const std::string& name, hid_t type, void* out, size_t n);
template <class T>
void read_dataset_into(hid_t loc, const std::string& name, T* out, size_t n) {
  read_array(loc, name, native_type<T>(), out, n);
}
template <class T>
std::vector<T> read_dataset(hid_t loc, const std::string& name) {
  Handle ds = open_dataset(loc, name);
  std::vector<T> v(size_t(dataset_points(ds, "/" + name)));
  ds.reset();
  read_array(loc, name, native_type<T>(), v.data(), v.size());
  return v;
}

// ---- string datasets ----

// A 1-D dataset of variable-length strings holding `values` as bytes. The character set says what
// they are: UTF-8 when every value is valid UTF-8 (h5py's .asstr() then decodes them), ASCII
// otherwise (byte tokens of a character vocabulary of a non-ASCII corpus, which h5py reads as
// bytes). The one rule for vocabularies in every file of the store.
void write_byte_strings(hid_t loc, const std::string& name, const std::vector<std::string>& values);
// Reads a 1-D string dataset of either character set, fixed or variable length, byte for byte.
std::vector<std::string> read_byte_strings(hid_t loc, const std::string& name);

// ---- compound types ----

// A compound type of `size` bytes; add members with add_member.
Handle compound_type(size_t size);
void add_member(hid_t compound, const std::string& name, size_t offset, hid_t type);

// ---- datasets of compound rows (/runs, /curves, /long_strings) ----

// Dataset creation properties: chunked by `chunk_rows`, unlimited, shuffled and deflated at
// `deflate_level` where the filter is available (growable tables); or compact (small tables that
// live in the object header).
Handle chunked_plist(hsize_t chunk_rows, unsigned deflate_level);
Handle compact_plist();
// A new 1-D dataset of `rows` rows of `file_type` (growable when dcpl is chunked).
Handle create_table(hid_t loc, const std::string& name, hid_t file_type, hsize_t rows,
                    hid_t dcpl = H5P_DEFAULT);
// Whole-dataset read/write in memory type `mem_type`.
void read_all(hid_t ds, hid_t mem_type, void* buf, const std::string& what);
void write_all(hid_t ds, hid_t mem_type, const void* buf, const std::string& what);
// Rows [start, start+count) of a 1-D dataset.
void read_rows(hid_t ds, hid_t mem_type, hsize_t start, hsize_t count, void* buf,
               const std::string& what);
// Overwrites the rows at `rows` (any order) with consecutive rows of buf.
void write_rows_at(hid_t ds, hid_t mem_type, const std::vector<hsize_t>& rows, const void* buf,
                   const std::string& what);
// Extends a growable 1-D dataset of `have` rows by `count` rows taken from buf.
void append_rows(hid_t ds, hid_t mem_type, hsize_t have, hsize_t count, const void* buf,
                 const std::string& what);
// Frees the variable-length data HDF5 allocated for a read of `ds`'s whole shape into buf.
void reclaim_vlen(hid_t ds, hid_t mem_type, void* buf);
// The stored type of a dataset; whether two types are equal; a compound's member names.
Handle dataset_type(hid_t ds, const std::string& what);
bool types_equal(hid_t a, hid_t b);
bool is_compound(hid_t type);
std::vector<std::string> member_names(hid_t compound);

// Fixed-length string type: `width` bytes, NUL-padded, UTF-8 (or ASCII: bytes).
Handle fixed_string_type(size_t width, bool utf8 = true);
// Variable-length string type (C string in memory), UTF-8 or ASCII character set.
Handle vlen_string_type(bool utf8 = true);

// Attributes on any object. Writers replace an existing attribute of that name.
void write_attr_string(hid_t obj, const std::string& name, const std::string& value);
void write_attr_strings(hid_t obj, const std::string& name, const std::vector<std::string>& v);
void write_attr_int(hid_t obj, const std::string& name, int64_t value);
// Readers return nullopt when the attribute is missing; throw when it has the wrong type.
std::optional<std::string> read_attr_string(hid_t obj, const std::string& name);
std::optional<std::vector<std::string>> read_attr_strings(hid_t obj, const std::string& name);
std::optional<int64_t> read_attr_int(hid_t obj, const std::string& name);

}  // namespace tinyfront::h5
