// The sampler's passes over the whole vocabulary, written to vectorise. On
// x86-64 each is also compiled for the AVX2 + FMA and the AVX-512 levels and
// the loader picks what the CPU runs; every pass but compute_weights gives
// the same result on every level.
//
// compute_weights approximates e^(x - top) by a polynomial instead of
// std::exp: within kWeightPassError (relative) for x - top >= -700, and
// e^-700 below that. The chain's error bound (decision_margin.h) counts
// both, so these weights only steer decisions exact_chain.h would take too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sampling/logit_buckets.h"

namespace ossrt {

inline constexpr double kWeightPassError = 0x1.0p-50;
// How much too large a weight of x - top below -700 may be.
inline constexpr double kWeightPassFloor = 0x1.0p-1000;

// out[i] = in[i] / divisor.
void divide(std::span<const float> in, float divisor, std::span<float> out) noexcept;

struct ValueRange {
  float top, lowest;   // of the values that are not NaN (-inf and inf when all are NaN)
  uint32_t top_index;  // the first index of `top`
  bool has_nan;
};
// Of x.size() < 2^32 values.
ValueRange value_range(std::span<const float> x) noexcept;

// out[i] = buckets(x[i]).
void compute_buckets(std::span<const float> x, const LogitBuckets& buckets, std::span<uint16_t> out) noexcept;

// out[i] = e^(x[i] - top), the subtraction in float, to within the bounds above.
void compute_weights(std::span<const float> x, float top, std::span<double> out) noexcept;

// The sum of `w`, in lanes (an order of its own).
double lane_sum(std::span<const double> w) noexcept;

// Appends to `ids` every index whose bucket is in [first, last], in ascending order.
void ids_in_buckets(std::span<const uint16_t> buckets, uint16_t first, uint16_t last, std::vector<uint32_t>& ids);

}  // namespace ossrt
