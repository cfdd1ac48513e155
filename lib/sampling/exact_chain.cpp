#include "sampling/exact_chain.h"

#include <algorithm>
#include <cstdint>

namespace ossrt {

double ordered_weight(const ScaledLogits& s, std::span<const OrderKey> ordered) noexcept {
  double total = 0;
  for (OrderKey key : ordered) total += relative_weight(s, order_key_id(key));
  return total;
}

double id_order_weight(const ScaledLogits& s) noexcept {
  double total = 0;
  for (uint32_t i = 0; i < s.x.size(); ++i) total += relative_weight(s, i);
  return total;
}

size_t filtered_count(const SamplerOptions& o, const ScaledLogits& s, std::span<const OrderKey> ordered,
                      double total) noexcept {
  double mass = 0;
  for (size_t i = 0; i < ordered.size(); ++i) {
    const double relative = relative_weight(s, order_key_id(ordered[i]));  // p / p_top
    if (relative < static_cast<double>(o.min_p)) return std::max<size_t>(i, 1);
    mass += relative / total;
    if (o.top_p < 1.0f && mass >= static_cast<double>(o.top_p)) return i + 1;
  }
  return ordered.size();
}

TokenId ordered_draw(const ScaledLogits& s, std::span<const OrderKey> kept, double u) noexcept {
  const double target = u * ordered_weight(s, kept);
  double running = 0;
  for (OrderKey key : kept) {
    running += relative_weight(s, order_key_id(key));
    if (running > target) return static_cast<TokenId>(order_key_id(key));
  }
  return static_cast<TokenId>(order_key_id(kept.back()));  // unreachable: u < 1, the top weighs 1
}

TokenId id_order_draw(const ScaledLogits& s, double u, std::vector<double>& block_sums) {
  // The running sum at each block's end is the one the walk reaches there, so
  // the block holding the draw is found exactly and only it is weighed twice.
  constexpr size_t kBlock = 1024;
  const size_t n = s.x.size();
  block_sums.resize((n + kBlock - 1) / kBlock);
  double running = 0;
  for (size_t b = 0; b < block_sums.size(); ++b) {
    for (size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) running += relative_weight(s, i);
    block_sums[b] = running;
  }
  const double target = u * running;
  const size_t b =
      static_cast<size_t>(std::upper_bound(block_sums.begin(), block_sums.end(), target) - block_sums.begin());
  if (b == block_sums.size()) return static_cast<TokenId>(n - 1);  // unreachable, as above
  running = b == 0 ? 0 : block_sums[b - 1];
  for (size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
    running += relative_weight(s, i);
    if (running > target) return static_cast<TokenId>(i);
  }
  return static_cast<TokenId>(n - 1);
}

}  // namespace ossrt
