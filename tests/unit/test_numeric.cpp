// bf16, fp16 and MXFP4 scalar decoding (docs/model.md §4.1), Q15 blocks.
#include <doctest/doctest.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "backend/cpu/cpu_features.h"
#include "util/numeric.h"
#include "util/q15.h"

using namespace ossrt;

TEST_CASE("bf16 round trip and rounding") {
  CHECK(bf16_to_f32(0x3f80) == 1.0f);
  CHECK(bf16_to_f32(0xc040) == -3.0f);
  CHECK(f32_to_bf16(1.0f) == 0x3f80);
  // 1 + 2^-8 is halfway between two bf16 values: ties go to even (1.0).
  CHECK(f32_to_bf16(1.00390625f) == 0x3f80);
  CHECK(f32_to_bf16(1.01171875f) == 0x3f82);
}

namespace {

// binary16 by its definition, through double: (-1)^s * 2^(e - 15) * 1.m for
// e in 1..30, 2^-14 * 0.m for e = 0 (subnormals), infinity or NaN for e = 31.
float f16_by_definition(uint16_t bits) {
  const int exponent = (bits >> 10) & 0x1f, mantissa = bits & 0x3ff;
  const double sign = (bits & 0x8000) != 0 ? -1.0 : 1.0;
  if (exponent == 0x1f) return static_cast<float>(mantissa == 0 ? sign * INFINITY : NAN);
  const double magnitude = exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
  return static_cast<float>(sign * magnitude);
}

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

#if defined(__x86_64__) || defined(__i386__)
// The CPU's conversion (F16C), where it has one.
__attribute__((target("f16c"))) float f16_by_f16c(uint16_t bits) {
  return _cvtsh_ss(bits);
}
#endif

}  // namespace

TEST_CASE("f16_to_f32 over every fp16 bit pattern: the definition's value, the CPU's where it converts") {
#if defined(__x86_64__) || defined(__i386__)
  const bool f16c = cpu_features().f16c;  // clang 14 has no "f16c" for __builtin_cpu_supports
#else
  const bool f16c = false;
#endif
  size_t wrong = 0, wrong_f16c = 0, nans = 0;
  uint32_t first_wrong = 0;
  for (uint32_t pattern = 0; pattern <= 0xffff; ++pattern) {
    const auto bits = static_cast<uint16_t>(pattern);
    const float got = f16_to_f32(bits), want = f16_by_definition(bits);
    if (std::isnan(want)) {
      // A NaN keeps its sign and payload (the payload's top bits).
      ++nans;
      const bool kept = std::isnan(got) && std::signbit(got) == ((bits & 0x8000) != 0) &&
                        (float_bits(got) & 0x7fffff) == (static_cast<uint32_t>(bits & 0x3ff) << 13);
      if (!kept && wrong++ == 0) first_wrong = pattern;
    } else if (float_bits(got) != float_bits(want)) {  // -0 and +0 apart too
      if (wrong++ == 0) first_wrong = pattern;
    }
#if defined(__x86_64__) || defined(__i386__)
    // F16C quietens signalling NaNs: NaN for NaN there, every bit elsewhere.
    if (f16c) {
      const float cpu = f16_by_f16c(bits);
      if (std::isnan(cpu) ? !std::isnan(got) : float_bits(cpu) != float_bits(got)) ++wrong_f16c;
    }
#endif
  }
  CHECK(nans == 2 * 1023);
  CHECK_MESSAGE(wrong == 0, "first wrong pattern " << first_wrong);
  CHECK(wrong_f16c == 0);
  MESSAGE("checked against F16C: " << std::string(f16c ? "yes" : "no (this CPU has none)"));
  // Spot values: the smallest subnormal, the largest normal, -0.
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24));
  CHECK(f16_to_f32(0x7bff) == 65504.0f);
  CHECK(std::signbit(f16_to_f32(0x8000)));
  CHECK(f16_to_f32(0x3c00) == 1.0f);
}

TEST_CASE("FP4 E2M1 codes and E8M0 scales") {
  CHECK(kFp4Values[7] == 6.0f);
  CHECK(kFp4Values[1] == 0.5f);
  CHECK(kFp4Values[9] == -0.5f);
  CHECK(std::signbit(kFp4Values[8]));  // code 8 is -0
  CHECK(e8m0_to_f32(127) == 1.0f);
  CHECK(e8m0_to_f32(118) == 1.0f / 512);
  CHECK(e8m0_to_f32(130) == 8.0f);
}

TEST_CASE("MXFP4 element order: low nibble first, one scale per 32 elements") {
  uint8_t blocks[32] = {};
  uint8_t scales[2] = {127, 128};
  blocks[0] = 0x72;   // element 0 = code 2 (1.0), element 1 = code 7 (6.0)
  blocks[15] = 0x9f;  // element 30 = code 15 (-6), element 31 = code 9 (-0.5)
  blocks[16] = 0x05;  // element 32 = code 5 (3) in block 1 with scale 2
  CHECK(mxfp4_element(blocks, scales, 0) == 1.0f);
  CHECK(mxfp4_element(blocks, scales, 1) == 6.0f);
  CHECK(mxfp4_element(blocks, scales, 30) == -6.0f);
  CHECK(mxfp4_element(blocks, scales, 31) == -0.5f);
  CHECK(mxfp4_element(blocks, scales, 32) == 6.0f);
  CHECK(mxfp4_element(blocks, scales, 33) == 0.0f);
}

TEST_CASE("Q15 blocks: scale amax / 16256, values rounded to nearest even, degenerate blocks") {
  float x[kQ15BlockElements];
  int16_t v[kQ15BlockElements];
  for (size_t j = 0; j < kQ15BlockElements; ++j) x[j] = (static_cast<float>(j) - 15.5f) / 16.0f;
  x[5] = -3.96875f;    // amax, -16256: the scale is 1 / 4096, a step is exact
  x[6] = 0.5f / 4096;  // half a step: rounds to even 0
  x[7] = 1.5f / 4096;  // one and a half steps: rounds to even 2
  const float scale = quantize_q15_block(x, v);
  CHECK(scale == 1.0f / 4096);
  CHECK(v[5] == -16256);
  CHECK(v[6] == 0);
  CHECK(v[7] == 2);
  for (size_t j = 0; j < kQ15BlockElements; ++j) {
    CHECK(std::fabs(static_cast<float>(v[j]) * scale - x[j]) <= scale / 2 * 1.0001f);
  }

  float zeros[kQ15BlockElements] = {};
  v[0] = 9;
  CHECK(quantize_q15_block(zeros, v) == 0.0f);
  CHECK(v[0] == 0);

  zeros[3] = 1e-45f;  // the smallest denormal: 16256 / amax overflows, so all zero
  CHECK(quantize_q15_block(zeros, v) == 0.0f);
  CHECK(v[3] == 0);

  x[9] = std::numeric_limits<float>::infinity();
  CHECK(std::isnan(quantize_q15_block(x, v)));
  CHECK(v[5] == 0);
  x[9] = std::nanf("");
  CHECK(std::isnan(quantize_q15_block(x, v)));
}
