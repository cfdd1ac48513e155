#include <cmath>

#include "backend/cpu_ref/kernels.h"
#include "util/numeric.h"

namespace ossrt::cpu_ref {

void rmsnorm_f32_bf16w(void*, const float* x, const bf16_t* scale, size_t n, size_t dim, float eps, float* y) {
  for (size_t t = 0; t < n; ++t) {
    const float* row = x + t * dim;
    double sum_squares = 0;
    for (size_t i = 0; i < dim; ++i) sum_squares += static_cast<double>(row[i]) * row[i];
    const float inv_rms = static_cast<float>(1.0 / std::sqrt(sum_squares / static_cast<double>(dim) + eps));
    for (size_t i = 0; i < dim; ++i) y[t * dim + i] = row[i] * inv_rms * bf16_to_f32(scale[i]);
  }
}

}  // namespace ossrt::cpu_ref
