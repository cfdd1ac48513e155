// Scratch with one slice per OpenMP thread. It is allocated before a parallel
// region (an allocation failure inside one would terminate the host) and each
// thread takes its slice inside the region by thread number.
#pragma once

#include <omp.h>

#include <cstddef>
#include <vector>

namespace ossrt {

template <class T>
class PerThreadArray {
 public:
  // Slices for the team the calling thread's next parallel region gets.
  explicit PerThreadArray(size_t per_thread)
      : per_thread_(per_thread), data_(static_cast<size_t>(omp_get_max_threads()) * per_thread) {}

  // The calling thread's slice; call inside the parallel region.
  T* mine() { return data_.data() + static_cast<size_t>(omp_get_thread_num()) * per_thread_; }

 private:
  size_t per_thread_;
  std::vector<T> data_;
};

using PerThreadBuffer = PerThreadArray<float>;

}  // namespace ossrt
