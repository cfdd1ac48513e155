// bf16 and MXFP4 scalar decoding (docs/model.md §4.1).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

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
