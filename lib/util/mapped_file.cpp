#include "util/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "util/errors.h"
#include "util/regular_file.h"

namespace ossrt {

namespace {

// The file byte a copy puts on the boundary: aligned_at of the file's head
// (0 without aligned_at, or where the head cannot be read: the caller's
// parse of the copy then says why).
size_t aligned_byte(int fd, MappedFile::AlignedAt aligned_at) noexcept {
  if (aligned_at == nullptr) return 0;
  uint8_t head[MappedFile::kHeadBytes] = {};
  ssize_t got = -1;
  do {
    got = ::pread(fd, head, sizeof head, 0);
  } while (got < 0 && errno == EINTR);
  return got < 0 ? 0 : aligned_at(head, static_cast<size_t>(got));
}

}  // namespace

Result<std::unique_ptr<MappedFile>> MappedFile::open(const std::filesystem::path& path, bool in_memory,
                                                     AlignedAt aligned_at) {
  Result<RegularFile> opened = open_regular_file(path, "checkpoint file");
  if (!opened.ok()) return opened.status();
  const RegularFile& file = opened.value();
  const size_t size = file.size;
  const uint8_t* data = nullptr;
  // A copy's bytes start `shift` bytes into its pages, so that byte lands on the boundary.
  const size_t shift =
      in_memory ? (kCopyAlignment - aligned_byte(file.fd, aligned_at) % kCopyAlignment) % kCopyAlignment : 0;
  const size_t mapping_size = size + shift;
  void* p = nullptr;
  if (size > 0) {
    // In memory: anonymous pages (not new[]: a failure is a status, not an
    // exception, at any size), filled by read().
    p = in_memory ? ::mmap(nullptr, mapping_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                  : ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file.fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(file.fd);
      return error(err == ENOMEM ? StatusCode::out_of_memory : StatusCode::io_error, "%s: %s of %zu bytes failed: %s",
                   path.c_str(), in_memory ? "allocating" : "mmap", size, std::strerror(err));
    }
    if (in_memory) {
      // 2 MiB pages (THP "madvise" mode grants them only when asked): the
      // kernels read experts and rows scattered over gigabytes, and with 4
      // KiB pages every few rows cost a TLB miss. gpt-oss-20b, Zen 4, 2
      // threads, fast numerics: MoE 36-37 ms per token, 10.1-10.8 tok/s;
      // mapped, 37-38 ms when the loader read the file into the page cache
      // (2 MiB folios here) but 54 ms (7.8-8.0 tok/s) when the page cache
      // held it from being written (a fresh copy or download).
      static_cast<void>(::madvise(p, mapping_size, MADV_HUGEPAGE));
      // Read in chunks, each dropped from the page cache once copied, so the
      // file's bytes are not held twice (the copy is the one that counts).
      constexpr size_t kChunk = size_t{256} << 20;
      size_t done = 0;
      while (done < size) {
        const ssize_t n = ::read(file.fd, static_cast<uint8_t*>(p) + shift + done, std::min(kChunk, size - done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          const int err = n < 0 ? errno : 0;
          ::munmap(p, mapping_size);
          ::close(file.fd);
          return error(StatusCode::io_error, "%s: read stopped at %zu of %zu bytes: %s", path.c_str(), done, size,
                       err != 0 ? std::strerror(err) : "the file shrank");
        }
        static_cast<void>(::posix_fadvise(file.fd, static_cast<off_t>(done), n, POSIX_FADV_DONTNEED));
        done += static_cast<size_t>(n);
      }
      ::mprotect(p, mapping_size, PROT_READ);
    }
    data = static_cast<const uint8_t*>(p) + shift;
  }
  auto mapped = std::unique_ptr<MappedFile>(
      new MappedFile(path, data, size, static_cast<uint8_t*>(p), data != nullptr ? mapping_size : 0));
  mapped->in_memory_ = in_memory && data != nullptr;
  if (in_memory || data == nullptr) {
    ::close(file.fd);
  } else {
    mapped->fd_ = file.fd;
    mapped->mtime_ns_ = file.mtime_ns;
  }
  return mapped;
}

MappedFile::~MappedFile() {
  if (mapping_ != nullptr) ::munmap(mapping_, mapping_size_);
  if (fd_ >= 0) ::close(fd_);
}

bool MappedFile::set_writable(bool writable) noexcept {
  if (!in_memory_) return false;
  return ::mprotect(mapping_, mapping_size_, writable ? PROT_READ | PROT_WRITE : PROT_READ) == 0;
}

bool MappedFile::changed() const noexcept {
  if (fd_ < 0) return false;
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return true;
  const long long mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  return static_cast<size_t>(st.st_size) != size_ || mtime_ns != mtime_ns_;
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
