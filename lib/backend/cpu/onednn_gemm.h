// Single-precision products through oneDNN's GEMM, whose JIT kernels use the
// widest vector unit of the CPU it runs on (AVX2 here, AVX-512 where present).
#pragma once

#include <cstddef>

namespace ossrt {

// c[i][j] = beta * c[i][j] + sum_l a[i][l] * b[j][l] for i < m, j < n, l < k;
// rows of a, b and c are lda, ldb and ldc floats apart. Runs on the calling
// thread's OpenMP team size; call outside parallel regions. Returns false,
// with c untouched, when oneDNN refuses the call (bad sizes, out of memory).
bool onednn_gemm_nt(size_t m, size_t n, size_t k, const float* a, size_t lda, const float* b, size_t ldb, float beta,
                    float* c, size_t ldc) noexcept;

}  // namespace ossrt
