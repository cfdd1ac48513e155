#include "sampling/block_draw.h"

#include <algorithm>
#include <cstddef>

#include "sampling/decision_margin.h"
#include "sampling/vocabulary_passes.h"

namespace ossrt {

std::optional<TokenId> block_draw(std::span<const double> weights, double u, std::vector<double>& block_weights) {
  constexpr size_t kBlock = 1024;
  const size_t n = weights.size();
  block_weights.resize((n + kBlock - 1) / kBlock);
  double running = 0;
  for (size_t b = 0; b < block_weights.size(); ++b) {
    running += lane_sum(weights.subspan(b * kBlock, std::min(kBlock, n - b * kBlock)));
    block_weights[b] = running;
  }
  const DecisionMargin margin(n);
  const double target = u * running;
  const size_t b =
      static_cast<size_t>(std::upper_bound(block_weights.begin(), block_weights.end(), target) - block_weights.begin());
  if (b == block_weights.size()) return std::nullopt;
  running = b == 0 ? 0 : block_weights[b - 1];
  for (size_t i = b * kBlock; i < std::min(n, (b + 1) * kBlock); ++i) {
    const double before = running;
    running += weights[i];
    if (running <= target) continue;
    // Before the first token both walks hold an exact 0.
    if (margin.clear(running, target) && (i == 0 || margin.clear(before, target))) return static_cast<TokenId>(i);
    return std::nullopt;
  }
  return std::nullopt;  // the block's sum passed the target, its tokens one by one did not
}

}  // namespace ossrt
