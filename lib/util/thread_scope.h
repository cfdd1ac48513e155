// A session's thread count applied for the duration of one call. OpenMP's
// team size is a per-thread setting, so setting it on the calling thread
// affects only the parallel regions this call opens (and oneDNN's, which run
// on the same OpenMP runtime), never the host's other threads or sessions.
#pragma once

#include <omp.h>

#include <cstddef>

namespace ossrt {

class ThreadCountScope {
 public:
  explicit ThreadCountScope(size_t threads) noexcept : previous_(omp_get_max_threads()), active_(threads > 0) {
    if (active_) omp_set_num_threads(static_cast<int>(threads));
  }
  ~ThreadCountScope() {
    if (active_) omp_set_num_threads(previous_);
  }
  ThreadCountScope(const ThreadCountScope&) = delete;
  ThreadCountScope& operator=(const ThreadCountScope&) = delete;

 private:
  int previous_;
  bool active_;
};

}  // namespace ossrt
