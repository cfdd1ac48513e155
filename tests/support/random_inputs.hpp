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

// Q8_0 rows (backend.h) of `in` weights: codes over all of -128..127, and
// scales d of both signs, mostly normal fp16 around 1, an eighth subnormal
// and an eighth large (2^10 .. 2^15).
inline std::vector<uint8_t> random_q8_0(size_t rows, size_t in, std::mt19937& rng) {
  std::vector<uint8_t> v = random_bytes(rows * in / kQ8_0BlockValues * kQ8_0BlockBytes, rng, 0, 255);
  std::uniform_int_distribution<int> kind(0, 7), normal(10, 17), large(25, 30), mantissa(0, 1023), sign(0, 1);
  for (size_t block = 0; block < v.size(); block += kQ8_0BlockBytes) {
    const int k = kind(rng);
    const int exponent = k == 0 ? 0 : k == 1 ? large(rng) : normal(rng);
    const int bits = sign(rng) << 15 | exponent << 10 | mantissa(rng);
    v[block] = static_cast<uint8_t>(bits & 0xff);  // little-endian
    v[block + 1] = static_cast<uint8_t>(bits >> 8);
  }
  return v;
}

}  // namespace ossrt::test
