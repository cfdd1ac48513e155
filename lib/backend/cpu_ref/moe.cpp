#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu_ref/kernels.h"
#include "util/numeric.h"
#include "util/q15.h"

namespace ossrt::cpu_ref {

namespace {

// An MXFP4 row of expert e: its blocks and scale bytes.
struct Mxfp4Row {
  const uint8_t* blocks;
  const uint8_t* scales;

  Mxfp4Row(const uint8_t* all_blocks, const uint8_t* all_scales, size_t rows, size_t in, size_t e, size_t r) {
    const size_t blocks_per_row = in / kMxfp4BlockElements, row = e * rows + r;
    blocks = all_blocks + row * blocks_per_row * kMxfp4BlockBytes;
    scales = all_scales + row * blocks_per_row;
  }
};

// One output of an MXFP4 linear layer: the row dotted with x.
float mxfp4_row_dot(Mxfp4Row row, size_t in, const float* x) {
  float sum = 0;
  for (size_t i = 0; i < in; ++i) sum += mxfp4_element(row.blocks, row.scales, i) * x[i];
  return sum;
}

// Vectors quantized to Q15 blocks (util/q15.h), Numerics::fast's expert inputs.
struct Q15Vectors {
  size_t width;
  std::vector<int16_t> q;
  std::vector<float> scale;

  Q15Vectors(size_t count, size_t width_) : width(width_), q(count * width), scale(count * width / kQ15BlockElements) {}
  void quantize(size_t v, const float* x) {
    quantize_q15_row(x, width, q.data() + v * width, scale.data() + v * width / kQ15BlockElements);
  }
};

// The row dotted with Q15 vector v: each block's products summed exactly as
// integers (codes as twice their E2M1 values), then scaled by the vector's
// and the row's block scales (and 1/2).
float mxfp4_row_dot_q15(Mxfp4Row row, const Q15Vectors& x, size_t v) {
  float sum = 0;
  for (size_t b = 0; b < x.width / kMxfp4BlockElements; ++b) {
    const size_t first = v * x.width + b * kMxfp4BlockElements;
    int32_t products = 0;
    for (size_t j = 0; j < kMxfp4BlockElements; ++j) {
      const uint8_t byte = row.blocks[b * kMxfp4BlockBytes + j / 2];
      const float value = kFp4Values[j % 2 == 0 ? byte & 0x0f : byte >> 4];
      products += static_cast<int32_t>(2 * value) * x.q[first + j];
    }
    sum += static_cast<float>(products) * std::ldexp(x.scale[first / kMxfp4BlockElements], row.scales[b] - 128);
  }
  return sum;
}

}  // namespace

void moe_mxfp4_f32(void*, const MoeArgs& a) {
  const size_t I = a.intermediate, H = a.hidden;
  const float limit = a.swiglu_limit;
  const long long pairs = static_cast<long long>(a.n * a.k);
  // Numerics::fast: every token's input and every pair's activation as Q15.
  Q15Vectors x_q15(a.q15_inputs ? a.n : 0, H), act_q15(a.q15_inputs ? a.n * a.k : 0, I);
  for (size_t t = 0; t < (a.q15_inputs ? a.n : 0); ++t) {
    x_q15.quantize(t, a.x + t * H);
  }
  // Stage 1: per (token, slot) mlp1 + SwiGLU into scratch[.., 2I .. 3I).
#pragma omp parallel for schedule(static)
  for (long long pair = 0; pair < pairs; ++pair) {
    const size_t t = static_cast<size_t>(pair) / a.k;
    const size_t e = static_cast<size_t>(a.expert_ids[pair]);
    float* h = a.scratch + static_cast<size_t>(pair) * 3 * I;
    float* act = h + 2 * I;
    for (size_t r = 0; r < 2 * I; ++r) {
      const Mxfp4Row row(a.w1_blocks, a.w1_scales, 2 * I, H, e, r);
      const float dot = a.q15_inputs ? mxfp4_row_dot_q15(row, x_q15, t) : mxfp4_row_dot(row, H, a.x + t * H);
      h[r] = dot + bf16_to_f32(a.b1[e * 2 * I + r]);
    }
    for (size_t j = 0; j < I; ++j) act[j] = swiglu(h[2 * j], h[2 * j + 1], limit);
    if (a.q15_inputs) act_q15.quantize(static_cast<size_t>(pair), act);
  }
  // Stage 2: mlp2 per expert, weighted sum over the k slots, then the residual add.
  const long long outputs = static_cast<long long>(a.n * H);
#pragma omp parallel for schedule(static)
  for (long long job = 0; job < outputs; ++job) {
    const size_t t = static_cast<size_t>(job) / H, r = static_cast<size_t>(job) % H;
    float total = 0;
    for (size_t s = 0; s < a.k; ++s) {
      const size_t pair = t * a.k + s;
      const size_t e = static_cast<size_t>(a.expert_ids[pair]);
      const float* act = a.scratch + pair * 3 * I + 2 * I;
      const Mxfp4Row row(a.w2_blocks, a.w2_scales, H, I, e, r);
      const float dot = a.q15_inputs ? mxfp4_row_dot_q15(row, act_q15, pair) : mxfp4_row_dot(row, I, act);
      total += a.expert_weights[pair] * (dot + bf16_to_f32(a.b2[e * H + r]));
    }
    a.y[t * H + r] += total;
  }
}

}  // namespace ossrt::cpu_ref
