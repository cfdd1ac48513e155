#include "backend/cpu_ref/kernels.h"

namespace ossrt::cpu_ref {

// Pair i couples dims i and i + head_dim/2 (half-split, NeoX style).
void rope_f32(void*, float* x, size_t n, size_t row_stride, size_t heads, size_t head_dim, const float* cos,
              const float* sin) {
  const size_t half = head_dim / 2;
  for (size_t t = 0; t < n; ++t) {
    for (size_t h = 0; h < heads; ++h) {
      float* v = x + t * row_stride + h * head_dim;
      for (size_t i = 0; i < half; ++i) {
        const float c = cos[t * half + i], s = sin[t * half + i];
        const float x1 = v[i], x2 = v[i + half];
        v[i] = x1 * c - x2 * s;
        v[i + half] = x2 * c + x1 * s;
      }
    }
  }
}

}  // namespace ossrt::cpu_ref
