// A thin RAII layer over the HDF5 C API for the results store (private to src/store).
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

// Fixed-length string type: `width` bytes, NUL-padded, UTF-8.
Handle fixed_string_type(size_t width);
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
