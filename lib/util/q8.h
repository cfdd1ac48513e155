// Q8 lanes: fp32 vectors quantized per 8 elements to int8 within +-127
// with one fp32 scale each, the inputs of Numerics::fast's small expert
// groups (a decoded token's experts) where the CPU multiplies bytes with
// AVX512-VNNI and VBMI, or AVX-VNNI (backend/cpu/mxfp4_q8.h). A vpdpbusd sums 4
// byte products per int32 lane, so a lane of 8 elements is what a vector's
// lanes hold after the even and odd elements' products: a scale per lane
// costs the kernel nothing over one per 32-element block, and is 4x finer.
//
// Precision, tiny-a against the official fp32 run (Zen 4, the small groups
// of every MoE call in fast numerics): last logits within 8.9e-2 (bf16
// inputs: 5.7e-2), top-1 agreement 727 of 735 (729); prompt 2's decoded
// greedy continuation leaves the fp32 one at step 12 (bf16 inputs and the
// official bf16 run: at step 5), the others never. After the mixed
// batched-step test's chunks 0.36, where the official bf16 run is 0.28 from
// fp32 (both inside fast numerics' bound, 1.5x that run's distance). 8 bits
// per 32 elements (llama.cpp's Q8_0 inputs) fell to 96.3 % top-1, below it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "util/q15.h"

namespace ossrt {

inline constexpr size_t kQ8LaneElements = 8;
inline constexpr int kQ8Max = 127;

// See quantize_symmetric.
inline float quantize_q8_lane(const float* x, int8_t* v) noexcept {
  return quantize_symmetric<kQ8LaneElements, kQ8Max>(x, v);
}

// Q24 lanes, for Numerics::exact's small expert groups: the same lanes with
// 24-bit values, multiplied as three signed byte digits, so within the
// largest value those hold, 127 (2^16 + 2^8 + 1). Each element moves by at
// most 1.004 x 2^-24 of its lane's largest, about what fp32 sums already
// lose on adding the lane's largest product, so the dot products stay
// within the rounding of the fp32 sums they replace.
inline constexpr int kQ24Max = 127 * ((1 << 16) + (1 << 8) + 1);

// See quantize_symmetric.
inline float quantize_q24_lane(const float* x, int32_t* v) noexcept {
  return quantize_symmetric<kQ8LaneElements, kQ24Max>(x, v);
}

}  // namespace ossrt
