#include "backend/cpu_ref/kernels.h"
#include "util/numeric.h"

namespace ossrt::cpu_ref {

void embedding_bf16_f32(void*, const bf16_t* table, size_t dim, const int32_t* ids, size_t n, float* out) {
  for (size_t t = 0; t < n; ++t) {
    const bf16_t* row = table + static_cast<size_t>(ids[t]) * dim;
    for (size_t i = 0; i < dim; ++i) out[t * dim + i] = bf16_to_f32(row[i]);
  }
}

}  // namespace ossrt::cpu_ref
