// The order every sampler stage walks: higher scaled logit first, lower id on
// ties. Each candidate gets one 64-bit key whose ascending order is that
// order, so a filtered set is "every key below some key" and sorting
// candidates is integer sorting.
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

namespace ossrt {

using OrderKey = uint64_t;

// Above every candidate's key: the end of a set that holds them all.
inline constexpr OrderKey kEveryCandidate = ~OrderKey{0};

// The key of the non-NaN scaled logit `x` of token `id`. -0 and +0 tie, as
// they compare equal.
inline OrderKey order_key(float x, uint32_t id) noexcept {
  const uint32_t bits = std::bit_cast<uint32_t>(x + 0.0f);  // -0 + 0 = +0
  // The float's bits mapped to unsigned order, then inverted: larger x, smaller key.
  const uint32_t ascending = (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
  return (OrderKey{~ascending} << 32) | id;
}

inline uint32_t order_key_id(OrderKey key) noexcept {
  return static_cast<uint32_t>(key);
}

// Sorts `keys`, gathered in ascending id order, into sampling order; `buffer`
// is scratch. Linear time on large sets (a stable radix sort of the logit
// half, which keeps the gathered id order among ties).
void sort_in_sampling_order(std::vector<OrderKey>& keys, std::vector<OrderKey>& buffer);

}  // namespace ossrt
