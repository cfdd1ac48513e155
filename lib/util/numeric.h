// Scalar number formats of the checkpoints: bf16 and MXFP4 (FP4 E2M1 values
// with an E8M0 scale per block of 32).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace ossrt {

inline float bf16_to_f32(uint16_t bits) noexcept {
  uint32_t u = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Round-to-nearest-even; NaN stays NaN.
inline uint16_t f32_to_bf16(float value) noexcept {
  uint32_t u;
  std::memcpy(&u, &value, sizeof u);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// IEEE binary16 -> fp32, exact for every value (subnormals, infinities, NaN).
inline float f16_to_f32(uint16_t bits) noexcept {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu, mantissa = bits & 0x3ffu;
  uint32_t u;
  if (exponent == 0x1f) {
    u = sign | 0x7f800000u | (mantissa << 13);
  } else if (exponent != 0) {
    u = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else {
    // Zero or subnormal: mantissa * 2^-24, exact in fp32.
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    std::memcpy(&u, &magnitude, sizeof u);
    u |= sign;
  }
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// fp32 -> IEEE binary16, rounded to nearest even; beyond 65504 (from
// 65520 up) infinity, NaN stays NaN.
inline uint16_t f32_to_f16(float value) noexcept {
  uint32_t u;
  std::memcpy(&u, &value, sizeof u);
  const auto sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  u &= 0x7fffffffu;
  if (u > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);
  if (u >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (u < 0x38800000u) {
    // Below 2^-14: a subnormal, |value| * 2^24 rounded to an integer (1024
    // rounds up into the smallest normal, which has the same bits).
    float magnitude;
    std::memcpy(&magnitude, &u, sizeof magnitude);
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(magnitude * 16777216.0f)));
  }
  u -= 112u << 23;  // rebias the exponent from 127 to 15
  u += 0xfffu + ((u >> 13) & 1u);
  return static_cast<uint16_t>(sign | (u >> 13));
}

inline constexpr size_t kMxfp4BlockElements = 32;  // elements sharing one scale byte
inline constexpr size_t kMxfp4BlockBytes = 16;     // two FP4 codes per byte

// FP4 E2M1 code -> value; bit 3 is the sign (code 8 is -0).
inline constexpr float kFp4Values[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                         -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

// E8M0 scale byte -> 2^(s - 127); 255 is not special-cased, as in the reference.
inline float e8m0_to_f32(uint8_t scale) noexcept {
  return std::ldexp(1.0f, static_cast<int>(scale) - 127);
}

// Element k of an MXFP4 row: block k/32, byte (k%32)/2, low nibble for even k.
inline float mxfp4_element(const uint8_t* row_blocks, const uint8_t* row_scales, size_t k) noexcept {
  uint8_t byte = row_blocks[(k / kMxfp4BlockElements) * kMxfp4BlockBytes + (k % kMxfp4BlockElements) / 2];
  uint8_t code = (k % 2 == 0) ? (byte & 0x0f) : (byte >> 4);
  return kFp4Values[code] * e8m0_to_f32(row_scales[k / kMxfp4BlockElements]);
}

// gpt-oss's clamped SwiGLU of one (glu, linear) pair of mlp1 outputs: glu is
// clamped from above only, linear both ways, alpha 1.702, and linear + 1.
inline float swiglu(float glu, float linear, float limit) noexcept {
  glu = std::min(glu, limit);
  linear = std::clamp(linear, -limit, limit);
  return glu / (1.0f + std::exp(-1.702f * glu)) * (linear + 1.0f);
}

}  // namespace ossrt
