// Rotary position embedding with static YaRN ("NTK-by-parts") scaling,
// half-split rotation (docs/model.md §3).
#pragma once

#include <cstddef>
#include <vector>

#include "io/model_config.h"

namespace ossrt {

class RopeYarn {
 public:
  explicit RopeYarn(const ModelConfig& config);

  // Fills cos/sin tables [count, head_dim/2] for positions first..first+count-1,
  // concentration included. Angles are computed in fp32 like the reference, so
  // long positions carry the same rounding as the reference does.
  void tables(size_t first, size_t count, float* cos_out, float* sin_out) const;

  float concentration() const noexcept { return concentration_; }
  const std::vector<float>& inv_freq() const noexcept { return inv_freq_; }

 private:
  std::vector<float> inv_freq_;  // [head_dim/2]
  float concentration_ = 1.0f;
};

}  // namespace ossrt
