// Read-only memory mapping of a whole file; weights are used in place from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "ossrt/status.hpp"

namespace ossrt {

class MappedFile {
 public:
  // Maps `path` read-only (private mapping, nothing is read until touched),
  // or with `in_memory` reads it whole into private anonymous memory: then a
  // later truncation or rewrite of the file cannot reach the bytes (no SIGBUS),
  // and, given `aligned_at`, the copy starts so that the file's byte
  // aligned_at(head, bytes) lies on a kCopyAlignment boundary, `head` being
  // the file's first kHeadBytes (fewer if it is shorter): where a
  // safetensors file's tensor data starts. Failure: not_found,
  // permission_denied, invalid_argument (not a regular file), io_error,
  // out_of_memory (messages name the path and errno text).
  using AlignedAt = size_t (*)(const uint8_t* head, size_t bytes) noexcept;
  static constexpr size_t kHeadBytes = 8;
  static Result<std::unique_ptr<MappedFile>> open(const std::filesystem::path& path, bool in_memory = false,
                                                  AlignedAt aligned_at = nullptr);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  // Whether the mapped file was truncated or written since open (its size or
  // modification time differ; fstat on the open descriptor, so a file renamed
  // over the path, which leaves the mapped one intact, does not count).
  // Always false for an in-memory copy. One fstat: about a microsecond.
  bool changed() const noexcept;

  // Whether the bytes are a private in-memory copy (open's `in_memory`).
  bool in_memory() const noexcept { return in_memory_; }
  // The boundary open's `aligned_at` lands on in a copy: the kernels' 512-bit
  // loads of a row split over two cache lines where the row is off it.
  static constexpr size_t kCopyAlignment = 64;
  // An in-memory copy's bytes writable (true) or read-only again (false),
  // for a reorder at load (Backend::tile_experts); they are read-only
  // otherwise. Returns false for a mapped file or when mprotect fails.
  bool set_writable(bool writable) noexcept;

 private:
  MappedFile(std::filesystem::path path, const uint8_t* data, size_t size, uint8_t* mapping, size_t mapping_size)
      : path_(std::move(path)), data_(data), size_(size), mapping_(mapping), mapping_size_(mapping_size) {}
  std::filesystem::path path_;
  const uint8_t* data_;
  size_t size_;
  uint8_t* mapping_;     // the mapping data_ lies in (a copy's starts up to kCopyAlignment - 1 bytes before it)
  size_t mapping_size_;  // its bytes
  int fd_ = -1;          // kept open (mapped files only) for changed()
  bool in_memory_ = false;
  long long mtime_ns_ = 0;
};

// Marks [data, data + bytes) of a mapping as read a few rows at a time (the
// token embedding): no transparent huge pages there, so touching one row maps
// its 4 KiB page, not the 2 MiB around it; and no read-around, so a row's
// first touch reads its own pages, not megabytes around them (on the EPYC
// VM's disk, 64 random rows of a cold 1.2 GB table: 15 ms with read-around,
// 3.6 ms without). Advisory; errors are ignored.
void advise_sparse_reads(const void* data, size_t bytes) noexcept;

// Asks the kernel to start reading the pages of rows `ids` of a row-major
// table ([rows][row_bytes], mapped from a file) in the background, so that a
// gather over a cold file waits for one round of reads issued together
// rather than for one read per row. Advisory; ids outside [0, rows) are
// skipped and errors ignored.
void advise_rows_needed(const void* table, size_t rows, size_t row_bytes, const int32_t* ids, size_t n) noexcept;

}  // namespace ossrt
