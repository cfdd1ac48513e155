// Scratch with one slice per OpenMP thread. It is allocated before a parallel
// region (an allocation failure inside one would terminate the host) and each
// thread takes its slice inside the region by thread number. Slices start on
// cache lines: no two threads write one line, and vector loads do not
// straddle two.
#pragma once

#include <omp.h>

#include <cstddef>
#include <vector>

#include "util/aligned_vector.h"

namespace ossrt {

template <class T>
class PerThreadArray {
 public:
  // Slices for the team the calling thread's next parallel region gets.
  explicit PerThreadArray(size_t per_thread)
      : per_thread_(lines_of(per_thread)), data_(static_cast<size_t>(omp_get_max_threads()) * per_thread_) {}

  // The calling thread's slice; call inside the parallel region.
  T* mine() { return data_.data() + static_cast<size_t>(omp_get_thread_num()) * per_thread_; }

 private:
  static_assert(kCacheLineBytes % sizeof(T) == 0);
  // n elements rounded up to whole cache lines.
  static size_t lines_of(size_t n) {
    constexpr size_t per_line = kCacheLineBytes / sizeof(T);
    return (n + per_line - 1) / per_line * per_line;
  }

  size_t per_thread_;
  CacheLineVector<T> data_;
};

using PerThreadBuffer = PerThreadArray<float>;

}  // namespace ossrt
