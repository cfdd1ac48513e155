#include "backend/cpu_ref/kernels.h"
#include "util/numeric.h"

namespace ossrt::cpu_ref {

void matmul_f32_bf16w(void*, const MatmulArgs& a) {
  const long long total = static_cast<long long>(a.n * a.out);
#pragma omp parallel for schedule(static)
  for (long long job = 0; job < total; ++job) {
    const size_t t = static_cast<size_t>(job) / a.out, o = static_cast<size_t>(job) % a.out;
    const float* x = a.x + t * a.x_stride;
    const bf16_t* w = a.w + o * a.in;
    float sum = 0;
    for (size_t i = 0; i < a.in; ++i) sum += x[i] * bf16_to_f32(w[i]);
    if (a.bias != nullptr) sum += bf16_to_f32(a.bias[o]);
    float& y = a.y[t * a.y_stride + o];
    y = a.accumulate ? y + sum : sum;
  }
}

}  // namespace ossrt::cpu_ref
