#include "model/rope_yarn.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace ossrt {

RopeYarn::RopeYarn(const ModelConfig& c) {
  size_t half = static_cast<size_t>(c.head_dim / 2);
  inv_freq_.resize(half);
  const float theta = static_cast<float>(c.rope_theta);
  const bool yarn = c.rope_scaling_factor > 1.0;
  const YarnBand band = yarn_band(c);
  const float factor = static_cast<float>(c.rope_scaling_factor);
  for (size_t i = 0; i < half; ++i) {
    // fp32 throughout, mirroring the reference's torch.float tensors.
    float freq = std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(c.head_dim));
    float extrapolation = 1.0f / freq;
    if (!yarn) {
      inv_freq_[i] = extrapolation;
      continue;
    }
    float interpolation = 1.0f / (factor * freq);
    float ramp = static_cast<float>((static_cast<double>(i) - band.low) / (band.high - band.low));
    float keep = 1.0f - std::clamp(ramp, 0.0f, 1.0f);  // weight of the original frequency
    inv_freq_[i] = interpolation * (1.0f - keep) + extrapolation * keep;
  }
  concentration_ = yarn ? static_cast<float>(0.1 * std::log(c.rope_scaling_factor) + 1.0) : 1.0f;
}

void RopeYarn::tables(size_t first, size_t count, float* cos_out, float* sin_out) const {
  const size_t half = inv_freq_.size();
  for (size_t t = 0; t < count; ++t) {
    const float position = static_cast<float>(first + t);
    for (size_t i = 0; i < half; ++i) {
      const float angle = position * inv_freq_[i];
      cos_out[t * half + i] = static_cast<float>(std::cos(static_cast<double>(angle))) * concentration_;
      sin_out[t * half + i] = static_cast<float>(std::sin(static_cast<double>(angle))) * concentration_;
    }
  }
}

}  // namespace ossrt
