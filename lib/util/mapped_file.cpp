#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/errors.h"

namespace ossrt {

Result<std::unique_ptr<MappedFile>> MappedFile::open(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return error(err == ENOENT ? StatusCode::not_found : StatusCode::io_error, "%s: cannot open: %s", path.c_str(),
                 std::strerror(err));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int err = errno;
    ::close(fd);
    return error(StatusCode::io_error, "%s: not a regular file (%s)", path.c_str(), std::strerror(err));
  }
  size_t size = static_cast<size_t>(st.st_size);
  const uint8_t* data = nullptr;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return error(err == ENOMEM ? StatusCode::out_of_memory : StatusCode::io_error, "%s: mmap of %zu bytes failed: %s",
                   path.c_str(), size, std::strerror(err));
    }
    data = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
  return std::unique_ptr<MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

namespace {

// madvise wants a page-aligned start: [data, data + bytes) widened down to
// its first page. Advisory, so the result is ignored.
void advise(const void* data, size_t bytes, int advice) noexcept {
  static const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data) / page * page;
  const uintptr_t end = reinterpret_cast<uintptr_t>(data) + bytes;
  static_cast<void>(::madvise(reinterpret_cast<void*>(begin), end - begin, advice));
}

}  // namespace

void advise_sparse_reads(const void* data, size_t bytes) noexcept {
  if (data == nullptr || bytes == 0) return;
  advise(data, bytes, MADV_NOHUGEPAGE);
  advise(data, bytes, MADV_RANDOM);
}

void advise_rows_needed(const void* table, size_t rows, size_t row_bytes, const int32_t* ids, size_t n) noexcept {
  if (table == nullptr) return;
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || static_cast<size_t>(ids[i]) >= rows) continue;
    advise(static_cast<const uint8_t*>(table) + static_cast<size_t>(ids[i]) * row_bytes, row_bytes, MADV_WILLNEED);
  }
}

}  // namespace ossrt
