// bf16 and MXFP4 scalar decoding (docs/gpt-oss.md §4.1).
#include <doctest/doctest.h>

#include "util/numeric.h"

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
