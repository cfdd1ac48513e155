// Q15 blocks: fp32 vectors quantized per 32 elements to integers within
// +-16256 (15 bits) with one fp32 scale each, the experts' inputs under
// Numerics::fast. Every backend quantizes through this one function, so
// their integer products agree exactly and only the float sums of the
// blocks' results differ in order.
//
// Why 15 bits: measured on tiny-a against the official fp32 run, 8-bit
// blocks of 32 (llama.cpp's Q8_0) moved the logits by 0.13 and top-1
// agreement to 96.3 % (fast numerics needs 97 %), 8 bits per 8 elements
// to 97.8 %; 15 bits leave the bf16 KV cache's own error (0.031, 99.3 %).
// A CPU multiplies them as two int8 digits (16256 = 127 * 128).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace ossrt {

inline constexpr size_t kQ15BlockElements = 32;
inline constexpr int kQ15Max = 16256;  // symmetric

// v[j] = x[j] * kMax / amax rounded to nearest even for the N elements of
// x, amax their largest |x[j]|; returns the scale amax / kMax, so that
// x[j] ~ v[j] * scale. An all-zero run, or one too small to invert, gives
// v = 0 and scale 0; a run with a non-finite element gives v = 0 and a NaN
// scale, so the products it enters are not finite, as in fp32. Q15 blocks
// take N = 32, kMax = 16256; the Q8 lanes (q8.h) N = 8, kMax = 127.
template <size_t N, int kMax, class Value>
inline float quantize_symmetric(const float* x, Value* v) noexcept {
  float amax = 0;
  bool finite = true;
  for (size_t j = 0; j < N; ++j) {
    finite = finite && std::isfinite(x[j]);
    amax = std::max(amax, std::fabs(x[j]));
  }
  const float inverse = static_cast<float>(kMax) / amax;
  if (!finite || !std::isfinite(inverse)) {
    for (size_t j = 0; j < N; ++j) v[j] = 0;
    return finite ? 0.0f : std::nanf("");
  }
  for (size_t j = 0; j < N; ++j) {
    // rint: compilers inline it (to nearest even) where lrint and nearbyint
    // call libm. |x| <= amax, so the product is within kMax up to rounding.
    const float r = std::rint(x[j] * inverse);
    v[j] = static_cast<Value>(std::clamp(r, -static_cast<float>(kMax), static_cast<float>(kMax)));
  }
  return amax / static_cast<float>(kMax);
}

inline float quantize_q15_block(const float* x, int16_t* v) noexcept {
  return quantize_symmetric<kQ15BlockElements, kQ15Max>(x, v);
}

// A row of `width` (a multiple of 32) elements as width/32 Q15 blocks:
// codes v[width], scales[width / 32].
inline void quantize_q15_row(const float* x, size_t width, int16_t* v, float* scales) noexcept {
  for (size_t b = 0; b < width / kQ15BlockElements; ++b) {
    scales[b] = quantize_q15_block(x + b * kQ15BlockElements, v + b * kQ15BlockElements);
  }
}

}  // namespace ossrt
