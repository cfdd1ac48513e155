// oneDNN's C entry (no exceptions) with row-major operands.
#include "backend/cpu/onednn_gemm.h"

#include <oneapi/dnnl/dnnl.h>

namespace ossrt {

bool onednn_gemm_nt(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* b, size_t ldb, float beta,
                    float* c, size_t ldc) noexcept {
  const auto dim = [](size_t v) { return static_cast<dnnl_dim_t>(v); };
  return dnnl_sgemm('N', 'T', dim(m), dim(n), dim(k), 1.0f, a, dim(lda), b, dim(ldb), beta, c, dim(ldc)) ==
         dnnl_success;
}

}  // namespace ossrt
