#include "sampling/sampling_order.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <utility>

namespace ossrt {

void sort_in_sampling_order(std::vector<OrderKey>& keys, std::vector<OrderKey>& buffer) {
  constexpr size_t kComparisonSortLimit = 512;  // below this std::sort beats four counting passes
  if (keys.size() <= kComparisonSortLimit) {
    std::sort(keys.begin(), keys.end());
    return;
  }
  // LSD radix sort on the logit half, one byte per pass; ids (the low half)
  // stay in their gathered, ascending order among equal logits.
  constexpr int kPasses = 4;
  std::array<std::array<size_t, 256>, kPasses> counts{};
  for (OrderKey key : keys) {
    for (int p = 0; p < kPasses; ++p) ++counts[p][(key >> (32 + 8 * p)) & 0xff];
  }
  buffer.resize(keys.size());
  for (int p = 0; p < kPasses; ++p) {
    const int shift = 32 + 8 * p;
    auto& count = counts[p];
    if (count[(keys.front() >> shift) & 0xff] == keys.size()) continue;  // every key has this byte
    size_t start = 0;
    for (size_t& c : count) start += std::exchange(c, start);
    for (OrderKey key : keys) buffer[count[(key >> shift) & 0xff]++] = key;
    keys.swap(buffer);
  }
}

}  // namespace ossrt
