// Host memory entries of the reference backend.
#include <cstdlib>
#include <cstring>

#include "backend/cpu_ref/kernels.h"

namespace ossrt::cpu_ref {

namespace {
constexpr size_t kAlignment = 64;  // cache line; lets vector kernels use aligned loads
}

void* alloc(void*, size_t bytes) {
  size_t rounded = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  if (rounded == 0) rounded = kAlignment;
  void* p = std::aligned_alloc(kAlignment, rounded);
  if (p != nullptr) std::memset(p, 0, rounded);
  return p;
}

void release(void*, void* ptr) {
  std::free(ptr);
}

void copy_bytes(void*, void* dst, const void* src, size_t bytes) {
  if (bytes > 0) std::memmove(dst, src, bytes);
}

}  // namespace ossrt::cpu_ref
