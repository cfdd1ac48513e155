// Dense layers with Q8_0 weights (GGUF files): the embedding gather and the
// matmul, in both numerics (backend.h).
#include <cstring>
#include <vector>

#include "backend/cpu_ref/kernels.h"
#include "util/numeric.h"
#include "util/q15.h"

namespace ossrt::cpu_ref {

namespace {

float block_scale(const uint8_t* block) {
  uint16_t bits;
  std::memcpy(&bits, block, sizeof bits);
  return f16_to_f32(bits);
}

int8_t block_code(const uint8_t* block, size_t j) {
  return static_cast<int8_t>(block[2 + j]);
}

}  // namespace

void embedding_q8_0_f32(void*, const uint8_t* table, size_t dim, const int32_t* ids, size_t n, float* out) {
  const size_t blocks = dim / kQ8_0BlockValues;
  for (size_t t = 0; t < n; ++t) {
    const uint8_t* row = table + static_cast<size_t>(ids[t]) * blocks * kQ8_0BlockBytes;
    for (size_t i = 0; i < dim; ++i) {
      const uint8_t* block = row + i / kQ8_0BlockValues * kQ8_0BlockBytes;
      out[t * dim + i] = block_scale(block) * static_cast<float>(block_code(block, i % kQ8_0BlockValues));
    }
  }
}

void matmul_f32_q8_0w(void*, const MatmulArgs& a, const uint8_t* w) {
  const size_t blocks = a.in / kQ8_0BlockValues;
  const bool q15 = a.bf16_products;
  // Numerics::fast: every x row as Q15 blocks, quantized once.
  std::vector<int16_t> x_codes(q15 ? a.n * a.in : 0);
  std::vector<float> x_scales(q15 ? a.n * blocks : 0);
  for (size_t t = 0; t < (q15 ? a.n : 0); ++t) {
    quantize_q15_row(a.x + t * a.x_stride, a.in, x_codes.data() + t * a.in, x_scales.data() + t * blocks);
  }
  const long long total = static_cast<long long>(a.n * a.out);
#pragma omp parallel for schedule(static)
  for (long long job = 0; job < total; ++job) {
    const size_t t = static_cast<size_t>(job) / a.out, o = static_cast<size_t>(job) % a.out;
    const uint8_t* row = w + o * blocks * kQ8_0BlockBytes;
    float sum = 0;
    for (size_t b = 0; b < blocks; ++b) {
      const uint8_t* block = row + b * kQ8_0BlockBytes;
      const float d = block_scale(block);
      if (q15) {
        const int16_t* v = x_codes.data() + t * a.in + b * kQ8_0BlockValues;
        int32_t products = 0;
        for (size_t j = 0; j < kQ8_0BlockValues; ++j) products += block_code(block, j) * v[j];
        sum += static_cast<float>(products) * (x_scales[t * blocks + b] * d);
      } else {
        const float* x = a.x + t * a.x_stride + b * kQ8_0BlockValues;
        for (size_t j = 0; j < kQ8_0BlockValues; ++j) sum += x[j] * (d * static_cast<float>(block_code(block, j)));
      }
    }
    if (a.bias != nullptr) sum += bf16_to_f32(a.bias[o]);
    float& y = a.y[t * a.y_stride + o];
    y = a.accumulate ? y + sum : sum;
  }
}

}  // namespace ossrt::cpu_ref
