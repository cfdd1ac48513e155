// Opening a path that must be a regular file (a checkpoint, config.json, a
// session state): a FIFO, device or directory of that name is refused before
// anything could block on it, and errno becomes the status an embedder can act on.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "ossrt/status.hpp"

namespace ossrt {

struct RegularFile {
  int fd = -1;  // O_RDONLY | O_CLOEXEC; the caller closes it
  size_t size = 0;
  long long mtime_ns = 0;
  unsigned long long inode = 0, device = 0;
};

// Opens `path` for reading without blocking (O_NONBLOCK, cleared once fstat
// says it is a regular file). `what` names the file's role in messages.
// Failure: not_found (ENOENT, ENOTDIR), permission_denied (EACCES, EPERM),
// invalid_argument (a directory, FIFO, socket or device), io_error (other
// errno, with its text).
Result<RegularFile> open_regular_file(const std::filesystem::path& path, const char* what);

// The whole of a regular file (config.json, a session state); the same failures.
Result<std::string> read_regular_file(const std::filesystem::path& path, const char* what);

// The status for a failed open/stat of `path` with `err` (errno).
Status file_error(const std::filesystem::path& path, const char* what, int err);

}  // namespace ossrt
