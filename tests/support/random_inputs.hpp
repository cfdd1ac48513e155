// Random kernel inputs for the kernel tests (a seeded engine, so every
// backend sees the same values).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "util/numeric.h"

namespace ossrt::test {

inline std::vector<float> random_floats(size_t n, std::mt19937& rng, float spread = 1.0f) {
  std::uniform_real_distribution<float> dist(-spread, spread);
  std::vector<float> v(n);
  for (float& x : v) x = dist(rng);
  return v;
}

inline std::vector<bf16_t> random_bf16(size_t n, std::mt19937& rng, float spread = 1.0f) {
  std::vector<bf16_t> v(n);
  for (bf16_t& x : v) x = f32_to_bf16(std::uniform_real_distribution<float>(-spread, spread)(rng));
  return v;
}

// Bytes in [low, high] (MXFP4 codes, E8M0 scales).
inline std::vector<uint8_t> random_bytes(size_t n, std::mt19937& rng, int low, int high) {
  std::uniform_int_distribution<int> dist(low, high);
  std::vector<uint8_t> v(n);
  for (uint8_t& b : v) b = static_cast<uint8_t>(dist(rng));
  return v;
}

}  // namespace ossrt::test
