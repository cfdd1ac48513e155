// Buckets of scaled logits by their distance below the top, for selecting in
// linear time. Bucket 0 holds the top; a larger logit never lands in a later
// bucket than a smaller one (float subtraction, multiplication and truncation
// are all monotone), so each bucket is a contiguous run of the sampling order
// and only the one bucket a decision falls in ever needs sorting.
#pragma once

#include <algorithm>
#include <cstdint>

namespace ossrt {

class LogitBuckets {
 public:
  static constexpr uint32_t kCount = 4096;
  // Where a pass files a token that is not a candidate (top-k left it out).
  static constexpr uint32_t kExcluded = kCount;
  // Logits further below the top share the last bucket: their weights are
  // under e^-64, so that bucket is almost never the one a decision falls in.
  static constexpr double kSpan = 64;

  LogitBuckets(float top, float lowest) noexcept : top_(top) {
    const double span = std::min(static_cast<double>(top) - static_cast<double>(lowest), kSpan);
    scale_ = span > 0 ? static_cast<float>(std::min((kCount - 1) / span, 0x1.0p126)) : 0.0f;  // finite
  }

  uint32_t operator()(float x) const noexcept {
    const float depth = -(x - top_) * scale_;  // x - top as the weights compute it
    return depth < static_cast<float>(kCount - 1) ? static_cast<uint32_t>(depth) : kCount - 1;
  }

  // Whether every logit is the top (then all share bucket 0).
  bool all_at_top() const noexcept { return scale_ == 0; }

  // A bound below x - top (in float, as the weights compute it) for every x
  // in bucket b < kCount - 1. Its depth rounded to below b + 1, so its exact
  // depth is below (b + 1)(1 + 2^-23) < b + 2.
  double lowest_offset(uint32_t b) const noexcept { return -(b + 2.0) / static_cast<double>(scale_); }

 private:
  float top_;
  float scale_;
};

}  // namespace ossrt
