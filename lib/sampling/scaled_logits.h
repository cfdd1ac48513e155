// The chain's first stages: logit bias, the repetition / presence / frequency
// penalties and the temperature, applied to a scratch copy of the logits that
// the filters then read.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "ossrt/sampler.hpp"
#include "ossrt/status.hpp"

namespace ossrt {

struct ScaledLogits {
  std::span<const float> x;  // per token id
  float top = 0;             // the largest x
  float lowest = 0;          // the smallest x
  uint32_t top_id = 0;       // the first id whose x is `top`
};

// Fills `scratch` (resized to the logits) with the biased, penalised logits,
// divided by the temperature when it is not 0. An infinite top is folded into
// the finite case: the tokens tied at the top become 0, every other -inf, so
// they share the probability equally (the limit of ever larger equal logits).
// Failure: invalid_argument for a logit_bias id outside the logits or a NaN
// logit (given, or made by the bias and penalties).
Result<ScaledLogits> scale_logits(const SamplerOptions& options, std::span<const float> logits,
                                  std::span<const TokenId> history, std::vector<float>& scratch);

// A token's weight relative to the top token's, e^(x - top) with the
// subtraction in float: the weight that defines the sampler's results
// (exact_chain.h adds these one by one).
inline double relative_weight(const ScaledLogits& s, uint32_t id) noexcept {
  return std::exp(static_cast<double>(s.x[id] - s.top));
}

}  // namespace ossrt
