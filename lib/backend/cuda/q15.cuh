// Q15 vectors on the device (util/q15.h's blocks): quantized bit for bit as
// the reference quantizes them, through cuda_math's per-lane functions
// (moe.cu), for the fast-numerics products of the MoE and of Q8_0 matmuls.
#pragma once

#include <cstdint>

#include "backend/cuda/cuda_context.cuh"

namespace ossrt::cuda {

// Q15 vectors: codes and one scale per 32 elements.
struct Q15 {
  int16_t* codes;
  float* scales;
};

// Quantizes `count` rows of `width` floats (a multiple of 32; rows `stride`
// floats apart) into out (codes [count, width], scales [count, width / 32])
// on c.stream, one warp per block.
void quantize_q15_rows(Context& c, const float* x, size_t count, size_t width, size_t stride, Q15 out);

}  // namespace ossrt::cuda
