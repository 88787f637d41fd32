#include "fsio.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "tinyfront/util/error.hpp"
#include "tinyfront/util/files.hpp"

namespace tinyfront::fsio {

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void fail_errno(const std::string& what, const std::string& path) {
  throw Error(path + ": cannot " + what + ": " + std::strerror(errno));
}

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

void require_regular_fd(int fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd, &st) != 0) fail_errno("stat", path);
  if (!S_ISREG(st.st_mode))
    throw Error(path + ": is " + file_kind(st.st_mode) + ", not a regular file");
}

Fd open_read_if_exists(const std::string& path) {
  // O_NONBLOCK: a FIFO in the file's place must be refused, not waited on for ever.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Fd();
    fail_errno("open", path);
  }
  Fd owned(fd);
  require_regular_fd(fd, path);
  return owned;
}

std::string read_all(int fd, const std::string& path) {
  std::string out;
  char buf[1 << 16];
  long long off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, off);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("read", path);
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
    off += n;
  }
  return out;
}

void pwrite_all(int fd, const std::string& bytes, long long offset, const std::string& path) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done,
                         offset + static_cast<long long>(done));
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno("write", path);
    }
    done += size_t(n);
  }
}

void fsync_fd(int fd, const std::string& path) {
  if (::fsync(fd) != 0) fail_errno("fsync", path);
}

void fdatasync_fd(int fd, const std::string& path) {
  if (::fdatasync(fd) != 0) fail_errno("fdatasync", path);
}

void fsync_file(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) fail_errno("open", path);
  fsync_fd(fd.get(), path);
}

static std::string parent_dir(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string basename_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

void fsync_parent_dir(const std::string& path) {
  std::string dir = parent_dir(path);
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) fail_errno("open directory", dir);
  fsync_fd(fd.get(), dir);
}

void copy_file(const std::string& src, const std::string& dst) {
  Fd in(::open(src.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) fail_errno("open", src);
  Fd out(::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!out) fail_errno("create", dst);
  // The copy keeps the original's mode: it replaces it (a fold), and 0640 must stay 0640.
  struct stat mode_of;
  if (::fstat(in.get(), &mode_of) != 0) fail_errno("stat", src);
  if (::fchmod(out.get(), mode_of.st_mode & 07777) != 0) fail_errno("set the mode of", dst);
  // A reflink shares the blocks (btrfs, xfs): constant time whatever the file size.
  if (::ioctl(out.get(), FICLONE, in.get()) == 0) return;
  struct stat st;
  if (::fstat(in.get(), &st) != 0) fail_errno("stat", src);
  off_t left = st.st_size;
  bool kernel_copy = true;
  while (left > 0 && kernel_copy) {
    ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, size_t(left), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL) {
        kernel_copy = false;  // fall back to read/write from where we are
        break;
      }
      fail_errno("copy to " + dst + " from", src);
    }
    if (n == 0) break;
    left -= n;
  }
  if (left > 0) {
    off_t off = st.st_size - left;
    std::vector<char> buf(1 << 20);
    while (left > 0) {
      ssize_t n = ::pread(in.get(), buf.data(), buf.size(), off);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail_errno("read", src);
      }
      if (n == 0) throw Error(src + ": changed size while being copied");
      pwrite_all(out.get(), std::string(buf.data(), size_t(n)), off, dst);
      off += n;
      left -= n;
    }
  }
}

void replace_durably(const std::string& src, const std::string& dst) {
  if (::rename(src.c_str(), dst.c_str()) != 0) fail_errno("rename " + src + " to", dst);
  fsync_parent_dir(dst);
}

void publish_no_clobber(const std::string& src, const std::string& dst) {
  if (::link(src.c_str(), dst.c_str()) == 0) {
    if (::unlink(src.c_str()) != 0) fail_errno("remove", src);
  } else {
    if (errno == EEXIST) throw Error(dst + ": already exists; refusing to overwrite it");
    if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP && errno != ENOSYS)
      fail_errno("link " + src + " to", dst);
    // No hard links on this file system: ask the kernel not to replace, then check and rename.
    if (::renameat2(AT_FDCWD, src.c_str(), AT_FDCWD, dst.c_str(), RENAME_NOREPLACE) != 0) {
      if (errno == EEXIST) throw Error(dst + ": already exists; refusing to overwrite it");
      if (errno != EINVAL && errno != ENOSYS) fail_errno("rename " + src + " to", dst);
      if (exists(dst)) throw Error(dst + ": already exists; refusing to overwrite it");
      if (::rename(src.c_str(), dst.c_str()) != 0) fail_errno("rename " + src + " to", dst);
    }
  }
  fsync_parent_dir(dst);
}

std::string temp_path_of(const std::string& path) {
  return path + ".tinyfront-tmp";
}

TempFile::TempFile(std::string path) : final_(std::move(path)), tmp_(temp_path_of(final_)) {}

TempFile::~TempFile() {
  if (!published_) ::unlink(tmp_.c_str());
}

void TempFile::publish(Publish how) {
  if (how == Publish::replace)
    replace_durably(tmp_, final_);
  else
    publish_no_clobber(tmp_, final_);
  published_ = true;
}

void write_atomically(const std::string& path, Publish how,
                      const std::function<void(const std::string& tmp)>& write) {
  TempFile tmp(path);
  write(tmp.path());
  fsync_file(tmp.path());
  tmp.publish(how);
}

bool try_lock(int fd) {
  for (;;) {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return false;
    // File systems without flock support: behave as if unlocked rather than refuse to work.
    if (errno == ENOLCK || errno == EOPNOTSUPP) return true;
    return false;
  }
}

}  // namespace tinyfront::fsio
