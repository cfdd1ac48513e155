#include <algorithm>
#include <cmath>

#include "backend/cpu_ref/kernels.h"
#include "util/numeric.h"

namespace ossrt::cpu_ref {

namespace {

// One output of an MXFP4 linear layer: row `r` of expert `e` dotted with x.
float mxfp4_row_dot(const uint8_t* blocks, const uint8_t* scales, size_t rows, size_t in, size_t e, size_t r,
                    const float* x) {
  const size_t blocks_per_row = in / kMxfp4BlockElements;
  const size_t row = e * rows + r;
  const uint8_t* row_blocks = blocks + row * blocks_per_row * kMxfp4BlockBytes;
  const uint8_t* row_scales = scales + row * blocks_per_row;
  float sum = 0;
  for (size_t i = 0; i < in; ++i) sum += mxfp4_element(row_blocks, row_scales, i) * x[i];
  return sum;
}

}  // namespace

void moe_mxfp4_f32(void*, const MoeArgs& a) {
  const size_t I = a.intermediate, H = a.hidden;
  const float limit = a.swiglu_limit;
  // Stage 1: per (token, slot) mlp1 + SwiGLU into scratch[.., 2I .. 3I).
  const long long pairs = static_cast<long long>(a.n * a.k);
#pragma omp parallel for schedule(static)
  for (long long pair = 0; pair < pairs; ++pair) {
    const size_t t = static_cast<size_t>(pair) / a.k;
    const size_t e = static_cast<size_t>(a.expert_ids[pair]);
    float* h = a.scratch + static_cast<size_t>(pair) * 3 * I;
    float* act = h + 2 * I;
    for (size_t r = 0; r < 2 * I; ++r) {
      h[r] = mxfp4_row_dot(a.w1_blocks, a.w1_scales, 2 * I, H, e, r, a.x + t * H) + bf16_to_f32(a.b1[e * 2 * I + r]);
    }
    for (size_t j = 0; j < I; ++j) act[j] = swiglu(h[2 * j], h[2 * j + 1], limit);
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
      const float y = mxfp4_row_dot(a.w2_blocks, a.w2_scales, H, I, e, r, act) + bf16_to_f32(a.b2[e * H + r]);
      total += a.expert_weights[pair] * y;
    }
    a.y[t * H + r] += total;
  }
}

}  // namespace ossrt::cpu_ref
