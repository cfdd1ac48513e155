// Private anonymous memory a loader fills itself (weights converted or
// repacked from a file's layout), on transparent huge pages: the kernels
// read such weights scattered over gigabytes, where 4 KiB pages cost a TLB
// miss every few rows (see MappedFile's in-memory copy).
#pragma once

#include <cstddef>
#include <cstdint>

#include "ossrt/status.hpp"

namespace ossrt {

class OwnedPages {
 public:
  // Zero-filled pages of `bytes` (0 gives an empty buffer). Failure:
  // out_of_memory, the message naming `what` and the size.
  static Result<OwnedPages> allocate(size_t bytes, const char* what);

  OwnedPages() = default;
  OwnedPages(OwnedPages&& other) noexcept : data_(other.data_), size_(other.size_) {
    other.data_ = nullptr;
    other.size_ = 0;
  }
  OwnedPages& operator=(OwnedPages&& other) noexcept;
  OwnedPages(const OwnedPages&) = delete;
  OwnedPages& operator=(const OwnedPages&) = delete;
  ~OwnedPages();

  uint8_t* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace ossrt
