// A backend table that times every kernel call of another one and adds up,
// per kernel and shape, the calls, the time and the bytes and FLOPs the calls
// imply. Models loaded with ModelOptions::profile_kernels run through it, so
// `ossrt bench --profile` can say where a token's time goes.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <vector>

#include "backend/backend.h"
#include "ossrt/kernel_timing.hpp"

namespace ossrt {

class KernelProfiler {
 public:
  // What a kernel call is filed under: the entry and up to four shape numbers.
  struct Key {
    const char* entry = "";
    uint64_t shape[4] = {};
    bool operator==(const Key& other) const;
  };
  // What one call costs besides its time.
  struct Cost {
    Key key;
    double bytes = 0;
    double flops = 0;
  };

  explicit KernelProfiler(const Backend& inner) noexcept;
  KernelProfiler(const KernelProfiler&) = delete;
  KernelProfiler& operator=(const KernelProfiler&) = delete;

  // The timing table: memory entries forward to `inner`, kernels are timed.
  const Backend& table() const noexcept { return table_; }

  // Totals so far, most time first. Throws std::bad_alloc.
  std::vector<KernelTiming> totals() const;
  void reset() noexcept;

  // Adds one call (the timing table's entries call this). Never throws: a
  // shape beyond the table's fixed capacity goes to an "other" row.
  void record(const Cost& cost, std::chrono::steady_clock::duration elapsed) noexcept;

  const Backend& inner() const noexcept { return inner_; }

 private:
  struct Row {
    Key key;
    uint64_t calls = 0;
    double seconds = 0, bytes = 0, flops = 0;
  };
  static constexpr size_t kMaxRows = 64;

  Backend inner_;
  Backend table_;
  mutable std::mutex mutex_;
  Row rows_[kMaxRows];
  size_t used_ = 0;
};

}  // namespace ossrt
