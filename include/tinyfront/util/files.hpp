// The files tinyfront reads and writes, checked the same way by every command.
//
// Reading: an input (spec, corpus, batch template) must be a regular file. A FIFO with no writer
// would block open() for ever, /dev/zero would be read until memory runs out, and a directory
// reads as empty; so each is refused by name, and opening never blocks (O_NONBLOCK, then fstat).
//
// Writing: one question, "may I write this path?", answered by check_may_write before anything
// is created. A path that does not exist may be created; an existing one may be replaced only if
// tinyfront wrote it (each caller says how it recognises its own files) or --force is given, and
// never when its mode makes it read-only or when it is not a regular file (or, for an output
// directory, not a directory).
#pragma once

#include <functional>
#include <string>

namespace tinyfront {

// "a FIFO (named pipe)", "a directory", "a character device", ... for a stat() mode; "a regular
// file" for one.
std::string file_kind(unsigned mode);

// Why `path` cannot be read as an input file ("no such file", "is a FIFO (named pipe), not a
// regular file", ...); empty when it is a regular file.
std::string regular_file_problem(const std::string& path);

// Throws tinyfront::Error "<what> <path>: <reason>" unless `path` (following symbolic links)
// exists and is a regular file. `what` says what the file is for ("data.path", "spec", ...).
void require_regular_file(const std::string& path, const std::string& what);

// The whole contents of a regular file, refusing anything else as require_regular_file does,
// without blocking on open (a FIFO swapped in after a check is still refused).
std::string read_regular_file(const std::string& path, const std::string& what);

// Writes `text` to `path` as a whole or not at all: into a temporary file beside it, every write
// checked, then renamed over `path` (fsync'd first when `durable`). On any failure the temporary
// file is removed and tinyfront::Error names the path and errno's text (e.g. "No space left on
// device"). Callers decide beforehand with check_may_write whether `path` may be replaced.
void write_file_atomically(const std::string& path, const std::string& text, bool durable = false,
                           unsigned mode = 0644);

enum class OutputKind { file, directory };

struct WriteCheck {
  std::string what;  // e.g. "--save-weights", "batch script": named in the error
  OutputKind kind = OutputKind::file;
  bool force = false;  // --force: replace even what tinyfront did not write (never read-only)
  // Recognises an existing file (or directory) as one tinyfront wrote; unset: nothing is.
  std::function<bool(const std::string& path)> written_by_tinyfront;
  std::string force_option = "--force";  // how the user overrides, named in the error
};

// May tinyfront create or replace `path`? Returns normally if so; otherwise throws
// tinyfront::Error naming the path and the reason:
//   * its directory does not exist, or it is not the kind of thing asked for (a FIFO, a device,
//     a directory where a file is wanted, ...);
//   * it exists with no owner-write bit (mode 0444 and the like): a read-only file is the user's
//     statement that it must not change, and root, who may write it anyway, is refused too;
//   * it exists, was not written by tinyfront, and force is not set.
void check_may_write(const std::string& path, const WriteCheck& check);

}  // namespace tinyfront
