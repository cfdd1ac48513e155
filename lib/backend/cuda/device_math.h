// The CUDA kernels' scalar arithmetic, compiled for the host too so that the
// unit tests hold each function to the reference's (util/numeric.h,
// util/q15.h, cpu_ref/) on machines without a GPU.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define OSSRT_HD __host__ __device__ inline
#else
#define OSSRT_HD inline
#endif

namespace ossrt::cuda_math {

// The bits of a value as another type of the same size (memcpy compiles to
// a register move on both sides).
template <class To, class From>
OSSRT_HD To bits_as(From from) {
  static_assert(sizeof(To) == sizeof(From), "same size");
  To to;
  memcpy(&to, &from, sizeof to);
  return to;
}

OSSRT_HD float float_from_bits(uint32_t u) {
  return bits_as<float>(u);
}

OSSRT_HD uint32_t bits_from_float(float f) {
  return bits_as<uint32_t>(f);
}

OSSRT_HD bool is_finite(float x) {
#if defined(__CUDA_ARCH__)
  return isfinite(x);
#else
  return std::isfinite(x);
#endif
}

OSSRT_HD float bf16_to_float(uint16_t bits) {
  return float_from_bits(static_cast<uint32_t>(bits) << 16);
}

// Round to nearest even; NaN stays NaN (quietened).
OSSRT_HD uint16_t float_to_bf16(float value) {
  uint32_t u = bits_from_float(value);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 0x40);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

// IEEE binary16 -> fp32, as util/numeric.h's f16_to_f32: exact for every
// value (subnormals, infinities; a NaN keeps its sign and payload).
OSSRT_HD float f16_to_float(uint16_t bits) {
  const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  const uint32_t exponent = (bits >> 10) & 0x1fu, mantissa = bits & 0x3ffu;
  if (exponent == 0x1f) return float_from_bits(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) return float_from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));
  // Zero or subnormal: mantissa * 2^-24, exact in fp32 (a normal float).
  return float_from_bits(sign | bits_from_float(static_cast<float>(mantissa) * float_from_bits(0x33800000u)));
}

// A Q8_0 block's scale d (backend.h): fp16, little-endian, at any alignment.
OSSRT_HD float q8_0_scale(const uint8_t* block) {
  return f16_to_float(static_cast<uint16_t>(block[0] | block[1] << 8));
}

// A Q8_0 block's integer products with a Q15 block, scaled: the reference's
// expression (cpu_ref/q8_0.cpp).
OSSRT_HD float q8_0_q15_block_result(int32_t products, float x_scale, float d) {
  return static_cast<float>(products) * (x_scale * d);
}

// Twice the E2M1 value of a 4-bit code: an integer in -12..12, so that Q15
// products stay integers. Bit 3 is the sign, bits 1-2 the exponent, bit 0
// the mantissa; exponent 0 is subnormal (0 or 0.5).
OSSRT_HD int fp4_twice_value(unsigned code) {
  const int exponent = static_cast<int>((code >> 1) & 3u), mantissa = static_cast<int>(code & 1u);
  const int magnitude = exponent == 0 ? mantissa : (2 + mantissa) << (exponent - 1);
  return (code & 8u) != 0 ? -magnitude : magnitude;
}

OSSRT_HD float fp4_value(unsigned code) {
  // -0.0 for code 8, as the reference table has it.
  const int twice = fp4_twice_value(code);
  return twice == 0 ? ((code & 8u) != 0 ? -0.0f : 0.0f) : 0.5f * static_cast<float>(twice);
}

// E8M0 scale byte -> 2^(s - 127), built from its exponent bits: 0 is the
// subnormal 2^-127 and 255 overflows to infinity, as ldexp gives them in the
// reference (which does not special-case 255 as NaN).
OSSRT_HD float e8m0_scale(uint8_t scale) {
  if (scale == 0) return float_from_bits(0x00400000u);
  if (scale == 255) return float_from_bits(0x7f800000u);
  return float_from_bits(static_cast<uint32_t>(scale) << 23);
}

// gpt-oss's clamped SwiGLU of one (glu, linear) pair: glu clamped from above,
// linear both ways, alpha 1.702, linear + 1.
OSSRT_HD float swiglu(float glu, float linear, float limit) {
  // Comparisons as std::min / std::clamp make them: a NaN input stays NaN.
  glu = limit < glu ? limit : glu;
  linear = linear < -limit ? -limit : (limit < linear ? limit : linear);
  return glu / (1.0f + expf(-1.702f * glu)) * (linear + 1.0f);
}

// Q15 blocks (util/q15.h), one element at a time so that a warp's lanes can
// each quantize their own: the block's |max| gives the inverse and the scale.
inline constexpr int kQ15Max = 16256;

OSSRT_HD float q15_inverse(float amax) {
  return static_cast<float>(kQ15Max) / amax;
}

// False: every code of the block is 0 and its scale is q15_scale_unusable.
OSSRT_HD bool q15_usable(bool all_finite, float inverse) {
  return all_finite && is_finite(inverse);
}

OSSRT_HD float q15_scale_unusable(bool all_finite) {
  return all_finite ? 0.0f : nanf("");
}

OSSRT_HD int16_t q15_code(float x, float inverse) {
  const float r = rintf(x * inverse);
  return static_cast<int16_t>(fminf(fmaxf(r, -static_cast<float>(kQ15Max)), static_cast<float>(kQ15Max)));
}

OSSRT_HD float q15_scale(float amax) {
  return amax / static_cast<float>(kQ15Max);
}

// One Q15 block's integer products with an MXFP4 block, scaled: the
// vector's scale times the row's 2^(s - 127), halved for the doubled codes.
OSSRT_HD float q15_block_result(int32_t products, float vector_scale, uint8_t row_scale) {
  return static_cast<float>(products) * ldexpf(vector_scale, static_cast<int>(row_scale) - 128);
}

// The state of an online softmax over some keys: the running max, the sum of
// exp(score - max), and (outside this struct) the exp-weighted value sum.
struct SoftmaxState {
  float max;
  float denominator;
};

// The factors by which two states' sums are rescaled to their merged max.
// A state with no keys has max -inf and contributes nothing.
struct MergeFactors {
  float merged_max, left, right;
};

OSSRT_HD MergeFactors softmax_merge_factors(SoftmaxState left, SoftmaxState right) {
  const float merged = fmaxf(left.max, right.max);
  if (merged == -INFINITY) return {merged, 0.0f, 0.0f};
  return {merged, expf(left.max - merged), expf(right.max - merged)};
}

// Router order: a higher logit first, the lower id on ties (as the
// reference's repeated selection picks them).
OSSRT_HD bool router_prefers(float logit, int id, float best_logit, int best_id) {
  return best_id < 0 || logit > best_logit || (logit == best_logit && id < best_id);
}

// Tile index math of the tiled matmul: how many tiles of `tile` cover `extent`.
OSSRT_HD size_t tiles_covering(size_t extent, size_t tile) {
  return (extent + tile - 1) / tile;
}

}  // namespace ossrt::cuda_math
