#include "sampling/vocabulary_passes.h"

#include <algorithm>
#include <bit>
#include <limits>

// ThreadSanitizer's runtime is not initialised yet when the dynamic loader runs
// ifunc resolvers, and an instrumented resolver crashes the process: one copy there.
#if defined(__SANITIZE_THREAD__)
#define OSSRT_THREAD_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define OSSRT_THREAD_SANITIZER 1
#endif
#endif

// One copy per x86-64 level, chosen when the library is loaded (an ifunc).
#if defined(__x86_64__) && defined(__ELF__) && !defined(OSSRT_THREAD_SANITIZER)
#define OSSRT_PER_LEVEL __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define OSSRT_PER_LEVEL
#endif

namespace ossrt {
namespace {

// Independent accumulators per reduction, so that the compiler can keep them
// in vector lanes (a single one would serialise the pass).
constexpr size_t kLanes = 16;
// Searches test blocks this long at once and skip those without a match; a
// shorter one would be unrolled whole, and then not vectorised.
constexpr size_t kSearchBlock = 64;

// e^d for d in [-700, 0]: d = n ln2 + f with |f| <= ln2 / 2, e^f by its Taylor
// polynomial to degree 13 (truncation < 2^-57), 2^n built in the exponent
// bits. ln2 is split in two (Cody and Waite) so that n ln2_hi is exact.
inline double exp_polynomial(double d) noexcept {
  constexpr double kShifter = 0x1.8p52;  // adding it rounds to an integer, kept in the low bits
  const double shifted = d * 0x1.71547652b82fep0 + kShifter;
  const double n = shifted - kShifter;
  double f = d - n * 0x1.62e42fefa3800p-1;  // 42 significant bits: n ln2_hi is exact
  f = f - n * 0x1.ef35793c76730p-45;
  double p = 1.0 / 6227020800.0;  // 1/13!
  for (double c : {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0,
                   1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0}) {
    p = p * f + c;
  }
  const uint64_t two_to_n = (std::bit_cast<uint64_t>(shifted) + 1023) << 52;  // n in [-1010, 0]
  return p * std::bit_cast<double>(two_to_n);
}

}  // namespace

OSSRT_PER_LEVEL void divide(std::span<const float> in, float divisor, std::span<float> out) noexcept {
  for (size_t i = 0; i < in.size(); ++i) out[i] = in[i] / divisor;
}

OSSRT_PER_LEVEL ValueRange value_range(std::span<const float> x) noexcept {
  float top[kLanes], lowest[kLanes];
  uint32_t top_index[kLanes];
  int nan[kLanes];
  for (uint32_t l = 0; l < kLanes; ++l) {
    top[l] = -std::numeric_limits<float>::infinity();
    lowest[l] = std::numeric_limits<float>::infinity();
    top_index[l] = l;  // right when every value of the lane is -inf
    nan[l] = 0;
  }
  const float* v = x.data();
  const uint32_t size = static_cast<uint32_t>(x.size());
  const uint32_t whole = size - size % kLanes;
  for (uint32_t i = 0; i < whole; i += kLanes) {
    for (uint32_t l = 0; l < kLanes; ++l) {
      // Strictly larger: each lane keeps its first top. A NaN changes nothing.
      top_index[l] = v[i + l] > top[l] ? i + l : top_index[l];
      top[l] = v[i + l] > top[l] ? v[i + l] : top[l];
      lowest[l] = v[i + l] < lowest[l] ? v[i + l] : lowest[l];
      nan[l] |= v[i + l] != v[i + l];
    }
  }
  ValueRange range{top[0], lowest[0], top_index[0], nan[0] != 0};
  for (uint32_t l = 1; l < kLanes; ++l) {
    if (top[l] > range.top || (top[l] == range.top && top_index[l] < range.top_index)) {
      range.top = top[l];
      range.top_index = top_index[l];
    }
    range.lowest = std::min(range.lowest, lowest[l]);
    range.has_nan |= nan[l] != 0;
  }
  // The rest come after every lane's values, so a tie keeps the lanes' index;
  // with no whole block the lanes saw nothing, and the first value is the top.
  for (uint32_t i = whole; i < size; ++i) {
    if (v[i] > range.top || (whole == 0 && i == 0)) {
      range.top = v[i];
      range.top_index = i;
    }
    range.lowest = std::min(range.lowest, v[i]);
    range.has_nan |= v[i] != v[i];
  }
  return range;
}

OSSRT_PER_LEVEL void compute_buckets(std::span<const float> x, const LogitBuckets& buckets,
                                     std::span<uint16_t> out) noexcept {
  for (size_t i = 0; i < x.size(); ++i) out[i] = static_cast<uint16_t>(buckets(x[i]));
}

OSSRT_PER_LEVEL void compute_weights(std::span<const float> x, float top, std::span<double> out) noexcept {
  // -700 as the floor, chosen on the bits (d <= 0: a larger pattern is a more
  // negative float) because a compare-and-select would not vectorise.
  const uint32_t floor_bits = std::bit_cast<uint32_t>(-700.0f);
  for (size_t i = 0; i < x.size(); ++i) {
    const uint32_t bits = std::bit_cast<uint32_t>(x[i] - top);
    out[i] = exp_polynomial(static_cast<double>(std::bit_cast<float>(bits > floor_bits ? floor_bits : bits)));
  }
}

OSSRT_PER_LEVEL double lane_sum(std::span<const double> w) noexcept {
  double lanes[kLanes] = {};
  const size_t whole = w.size() - w.size() % kLanes;
  for (size_t i = 0; i < whole; i += kLanes) {
    for (size_t l = 0; l < kLanes; ++l) lanes[l] += w[i + l];
  }
  double total = 0;
  for (size_t l = 0; l < kLanes; ++l) total += lanes[l];
  for (size_t i = whole; i < w.size(); ++i) total += w[i];
  return total;
}

OSSRT_PER_LEVEL void ids_in_buckets(std::span<const uint16_t> buckets, uint16_t first, uint16_t last,
                                    std::vector<uint32_t>& ids) {
  const uint16_t* b = buckets.data();
  const uint16_t width = static_cast<uint16_t>(last - first);
  const auto in_range = [&](size_t i) { return static_cast<uint16_t>(b[i] - first) <= width; };
  const size_t whole = buckets.size() - buckets.size() % kSearchBlock;
  for (size_t i = 0; i < whole; i += kSearchBlock) {
    int any = 0;
    for (size_t l = 0; l < kSearchBlock; ++l) any |= in_range(i + l);
    if (any == 0) continue;
    for (size_t l = 0; l < kSearchBlock; ++l) {
      if (in_range(i + l)) ids.push_back(static_cast<uint32_t>(i + l));
    }
  }
  for (size_t i = whole; i < buckets.size(); ++i) {
    if (in_range(i)) ids.push_back(static_cast<uint32_t>(i));
  }
}

}  // namespace ossrt
