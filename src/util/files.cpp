#include "tinyfront/util/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tinyfront/util/error.hpp"

namespace tinyfront {

std::string file_kind(unsigned mode) {
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

namespace {

std::string prefix(const std::string& what, const std::string& path) {
  return what.empty() ? path : what + " " + path;
}

[[noreturn]] void refuse_kind(const std::string& what, const std::string& path, unsigned mode) {
  throw Error(prefix(what, path) + ": is " + file_kind(mode) + ", not a regular file");
}

}  // namespace

std::string regular_file_problem(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return errno == ENOENT ? std::string("no such file") : std::string(std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return "is " + file_kind(st.st_mode) + ", not a regular file";
  return "";
}

void require_regular_file(const std::string& path, const std::string& what) {
  const std::string problem = regular_file_problem(path);
  if (!problem.empty()) throw Error(prefix(what, path) + ": " + problem);
}

std::string read_regular_file(const std::string& path, const std::string& what) {
  // stat first gives the clearest message; O_NONBLOCK then guarantees the open cannot hang if a
  // FIFO took the file's place in between, and fstat checks what was actually opened.
  require_regular_file(path, what);
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw Error(prefix(what, path) + ": cannot open: " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) throw Error(prefix(what, path) + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) refuse_kind(what, path, st.st_mode);
  std::string out;
  out.reserve(size_t(st.st_size));
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw Error(prefix(what, path) + ": cannot read: " + std::strerror(errno));
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  return out;
}

void write_file_atomically(const std::string& path, const std::string& text, bool durable,
                           unsigned mode) {
  const std::string tmp = path + ".tinyfront-tmp";
  auto fail = [&](const std::string& what, const std::string& p) {
    const int err = errno;
    ::unlink(tmp.c_str());
    throw Error(p + ": cannot " + what + ": " + std::strerror(err));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode_t(mode));
  if (fd < 0) throw Error(tmp + ": cannot create: " + std::strerror(errno));
  // A file being replaced keeps its mode (the user's choice), not ours.
  struct stat old;
  if (::stat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode) &&
      ::fchmod(fd, old.st_mode & 07777) != 0) {
    ::close(fd);
    fail("set the mode of", tmp);
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      ::close(fd);
      fail("write", path);
    }
    done += size_t(n);
  }
  if (durable && ::fsync(fd) != 0) {
    ::close(fd);
    fail("fsync", path);
  }
  if (::close(fd) != 0) fail("write", path);  // NFS reports some write errors only here
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename " + tmp + " to", path);
}

void check_may_write(const std::string& path, const WriteCheck& c) {
  const std::string name = prefix(c.what, path);
  const bool want_dir = c.kind == OutputKind::directory;
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) throw Error(name + ": " + std::strerror(errno));
    // Nothing there: it may be created if its directory exists (a file only: create_directories
    // makes an output directory's parents).
    if (!want_dir) {
      const auto slash = path.find_last_of('/');
      const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
      struct stat ds;
      if (::stat(dir.c_str(), &ds) != 0 || !S_ISDIR(ds.st_mode))
        throw Error(name + ": directory " + dir + " does not exist");
    }
    return;
  }
  if (S_ISLNK(st.st_mode) && ::stat(path.c_str(), &st) != 0)
    throw Error(name + ": is a dangling symbolic link; refusing to write through it");
  if (want_dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode))
    throw Error(name + ": is " + file_kind(st.st_mode) + ", not " +
                (want_dir ? "a directory" : "a regular file") + "; refusing to write it");
  if (!(st.st_mode & S_IWUSR)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", unsigned(st.st_mode & 07777));
    throw Error(name + ": is read-only (mode " + mode + "); refusing to change it (make it " +
                "writable with chmod u+w if it may be replaced)");
  }
  if (c.force) return;
  if (c.written_by_tinyfront && c.written_by_tinyfront(path)) return;
  throw Error(name + ": already exists and was not written by tinyfront; refusing to replace " +
              (want_dir ? "files in it" : "it") + " (" + c.force_option + " to replace it anyway)");
}

}  // namespace tinyfront
