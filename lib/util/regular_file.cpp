#include "util/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/errors.h"

namespace ossrt {

namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  return "not a regular file";
}

}  // namespace

Status file_error(const std::filesystem::path& path, const char* what, int err) {
  const StatusCode code = err == ENOENT || err == ENOTDIR ? StatusCode::not_found
                          : err == EACCES || err == EPERM ? StatusCode::permission_denied
                          : err == ENOMEM                 ? StatusCode::out_of_memory
                                                          : StatusCode::io_error;
  return error(code, "%s: cannot open %s: %s", path.c_str(), what, std::strerror(err));
}

Result<RegularFile> open_regular_file(const std::filesystem::path& path, const char* what) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return file_error(path, what, errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return file_error(path, what, err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return error(StatusCode::invalid_argument, "%s: the %s is %s, not a regular file", path.c_str(), what,
                 kind_of(st.st_mode));
  }
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) static_cast<void>(::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK));
  RegularFile file;
  file.fd = fd;
  file.size = static_cast<size_t>(st.st_size);
  file.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  file.inode = st.st_ino;
  file.device = st.st_dev;
  return file;
}

Result<std::string> read_regular_file(const std::filesystem::path& path, const char* what) {
  Result<RegularFile> file = open_regular_file(path, what);
  if (!file.ok()) return file.status();
  const int fd = file.value().fd;
  std::string text;
  try {
    text.resize(file.value().size);
  } catch (...) {
    ::close(fd);
    throw;
  }
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::read(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return error(StatusCode::io_error, "%s: cannot read %s: %s", path.c_str(), what, std::strerror(err));
    }
    if (n == 0) break;  // shrank meanwhile: what is there
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  text.resize(done);
  return text;
}

}  // namespace ossrt
