// When a running weight computed from the pass weights (vocabulary_passes.h), in
// another order than exact_chain.h adds them, is surely on the same side of a
// goal as exact_chain.h's running weight over the same n candidates.
//
// With u = 2^-53: a sum of non-negative terms, each rounded at most h times,
// is within h·u/(1 - h·u) of the exact sum. The bucketed passes round a term
// at most 2n + LogitBuckets::kCount times (its bucket's sum, the walk over
// buckets, the sorted bucket), exact_chain.h n + 1 times (its running sums
// and totals, with the division by the total); each pass weight is within
// kWeightPassError of std::exp's, whose own error is below u. A goal is a
// share (top_p, or the draw's uniform) of a total summed the same way on
// each side. Both sides of a comparison therefore move by less than
// (6n + 2·kCount + 4)·u + 4·kWeightPassError relatively, plus
// n·kWeightPassFloor absolutely (weights under e^-700, and the shares top-p
// divides out of them, which may round as subnormals); the margin is twice
// that, which also covers the second-order terms.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

#include "sampling/logit_buckets.h"
#include "sampling/vocabulary_passes.h"

namespace ossrt {

class DecisionMargin {
 public:
  explicit DecisionMargin(size_t candidates) noexcept
      : relative_((8.0 * static_cast<double>(candidates) + 2.0 * LogitBuckets::kCount + 16.0) * 0x1.0p-53 +
                  8 * kWeightPassError),
        absolute_(2.0 * static_cast<double>(candidates) * kWeightPassFloor) {}

  // Whether `running` (computed here) compares with `goal` (computed here)
  // as exact_chain.h's counterparts compare.
  bool clear(double running, double goal) const noexcept {
    return std::fabs(running - goal) > relative_ * std::max(running, goal) + absolute_;
  }

 private:
  double relative_;
  double absolute_;
};

}  // namespace ossrt
