// POSIX file operations with the durability the results store relies on (private to src/store).
// Every function throws tinyfront::Error naming the path and errno's text on failure.
#pragma once

#include <functional>
#include <string>
#include <utility>

namespace tinyfront::fsio {

// Owns a file descriptor; closes it once. Movable, not copyable.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset();

 private:
  int fd_ = -1;
};

[[noreturn]] void fail_errno(const std::string& what, const std::string& path);

bool exists(const std::string& path);  // lstat succeeds (any kind of file, even dangling links)

// Throws unless fd is a regular file (a FIFO, device or directory where a file belongs).
void require_regular_fd(int fd, const std::string& path);

// Opens read-only without blocking; returns an empty Fd if the file does not exist, throws on
// other errors and when it is not a regular file.
Fd open_read_if_exists(const std::string& path);
std::string read_all(int fd, const std::string& path);

// Writes all bytes at `offset`, retrying short writes.
void pwrite_all(int fd, const std::string& bytes, long long offset, const std::string& path);
void fsync_fd(int fd, const std::string& path);
void fdatasync_fd(int fd, const std::string& path);
void fsync_file(const std::string& path);  // opens, fsyncs, closes
// Makes a rename/link/unlink in the directory of `path` durable.
void fsync_parent_dir(const std::string& path);

// Copies a whole file (reflink where the file system can share blocks, else in-kernel copy).
// `dst` is created or truncated, with the mode of `src`.
void copy_file(const std::string& src, const std::string& dst);

// Atomically replaces `dst` by `src` and makes it durable (rename + directory fsync).
void replace_durably(const std::string& src, const std::string& dst);
// Atomically gives `src` the name `dst` only if `dst` does not exist yet (link + unlink), so a
// concurrent or earlier file at `dst` is never overwritten. Throws if `dst` exists.
void publish_no_clobber(const std::string& src, const std::string& dst);

// ---- atomic writes: the one mechanism for every file the store writes ----

// The temporary name a file of the store is written under before it is published: `path` +
// ".tinyfront-tmp", in the same directory (so the rename is atomic).
std::string temp_path_of(const std::string& path);

enum class Publish {
  replace,     // rename over `path` (a fold's snapshot, a checkpoint, a weights file)
  no_clobber,  // only if `path` does not exist yet (a new results file, a merge output)
};

// Owns the temporary name of `path` and removes the file at it on destruction unless it was
// published: whatever throws between creating it and publishing it (a full disk, an HDF5 error,
// `path` being a directory), no temporary file is left behind.
class TempFile {
 public:
  explicit TempFile(std::string path);
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();
  const std::string& path() const { return tmp_; }  // the temporary name, to write to
  // Gives the (already synced) temporary file its final name durably.
  void publish(Publish how);

 private:
  std::string final_, tmp_;
  bool published_ = false;
};

// Writes a file whole or not at all: `write` fills the temporary name, which is then fsync'ed
// and published. On any failure the temporary file is removed and the error rethrown.
void write_atomically(const std::string& path, Publish how,
                      const std::function<void(const std::string& tmp)>& write);

// Takes an exclusive, non-blocking flock on fd; false if another process holds it.
bool try_lock(int fd);

std::string basename_of(const std::string& path);

}  // namespace tinyfront::fsio
