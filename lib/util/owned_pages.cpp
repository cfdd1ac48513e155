#include "util/owned_pages.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "util/errors.h"

namespace ossrt {

Result<OwnedPages> OwnedPages::allocate(size_t bytes, const char* what) {
  OwnedPages pages;
  if (bytes == 0) return pages;
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return error(StatusCode::out_of_memory, "%s: allocating %zu bytes failed: %s", what, bytes, std::strerror(errno));
  }
  static_cast<void>(::madvise(p, bytes, MADV_HUGEPAGE));  // advisory
  pages.data_ = static_cast<uint8_t*>(p);
  pages.size_ = bytes;
  return pages;
}

OwnedPages& OwnedPages::operator=(OwnedPages&& other) noexcept {
  if (this != &other) {
    OwnedPages old(std::move(*this));
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

OwnedPages::~OwnedPages() {
  if (data_ != nullptr) ::munmap(data_, size_);
}

}  // namespace ossrt
