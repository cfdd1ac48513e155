// Scratch with one slice per OpenMP thread. It is allocated before a parallel
// region (an allocation failure inside one would terminate the host) and each
// thread takes its slice inside the region by thread number.
#pragma once

#include <omp.h>

#include <cstddef>
#include <vector>

namespace ossrt {

class PerThreadBuffer {
 public:
  // Slices for the team the calling thread's next parallel region gets.
  explicit PerThreadBuffer(size_t floats_per_thread)
      : per_thread_(floats_per_thread), data_(static_cast<size_t>(omp_get_max_threads()) * floats_per_thread) {}

  // The calling thread's slice; call inside the parallel region.
  float* mine() { return data_.data() + static_cast<size_t>(omp_get_thread_num()) * per_thread_; }

 private:
  size_t per_thread_;
  std::vector<float> data_;
};

}  // namespace ossrt
