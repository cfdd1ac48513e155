// std::vector whose storage starts on a 64-byte cache line. Kernels read
// their small operands (a token's activations in bf16, Q15 digits) once per
// weight row from L1, and a 64-byte load that straddles two lines costs two
// loads there: with the inputs 16 bytes into a line, the MXFP4 expert loop
// read 27-30 GB/s instead of 39-43 (standalone loop, 2 threads, Zen 4).
// malloc only promises 16 bytes.
#pragma once

#include <cstddef>
#include <new>
#include <vector>

namespace ossrt {

inline constexpr size_t kCacheLineBytes = 64;

template <class T>
struct CacheLineAllocator {
  using value_type = T;

  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}

  // Throws std::bad_alloc as std::allocator does.
  T* allocate(size_t n) { return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kCacheLineBytes})); }
  void deallocate(T* p, size_t) noexcept { ::operator delete (p, std::align_val_t{kCacheLineBytes}); }

  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const noexcept {
    return true;
  }
};

template <class T>
using CacheLineVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace ossrt
