// bf16 products through oneDNN's matmul primitive, for Numerics::fast on CPUs
// that multiply bf16 natively (AMX tiles, AVX512-BF16 dot products) faster
// than fp32: inputs rounded to bf16, products and sums in fp32. Nowhere
// else: oneDNN emulates bf16 more slowly than fp32 runs, and an Intel core
// without AMX issues one vdpbf16ps every two cycles against two 512-bit
// FMAs a cycle, so its bf16 products run slower than fp32 (Emerald Rapids
// VM, 2 threads, fast prefill 512: 21.4 tok/s with them, 31.2 with the
// fp32 GEMMs and the experts' integer tiles; a 512-token layer's experts
// 130 against 186 GFLOP/s). Zen 4 issues vdpbf16ps at its FMA rate, twice
// the fp32 work.
#pragma once

#include <cstddef>

#include "backend/backend.h"

namespace ossrt {

// Lets oneDNN use AMX where the CPU has it (oneDNN 2.x leaves AMX off until
// asked). Call before the process's first oneDNN primitive or GEMM; later
// calls, and a DNNL_MAX_CPU_ISA / ONEDNN_MAX_CPU_ISA set by the user, leave
// oneDNN's choice as it is. Thread-safe; runs once.
void onednn_allow_amx() noexcept;

// One prepared shape of c = a . b^T:
//   c[i * ldc + j] = sum_l a[i * k + l] * b[j * k + l]   (i < m, j < n, l < k)
// with a and b in bf16 (rows k apart) and c in fp32.
class Bf16Matmul {
 public:
  // The product for this shape, created once and kept for the process; null
  // where oneDNN has no native bf16 matmul on this CPU, or refuses the shape
  // (out of memory). Thread-safe; call outside parallel regions.
  static const Bf16Matmul* get(size_t m, size_t n, size_t k, size_t ldc) noexcept;

  size_t scratch_bytes() const noexcept { return scratch_bytes_; }

  // Computes c, on the calling thread alone inside a parallel region (oneDNN
  // does not nest) and on the thread's team outside one. Concurrent calls
  // are safe with separate scratch (scratch_bytes(), any alignment). Returns
  // false, c unspecified, when oneDNN fails (out of memory).
  bool run(const bf16_t* a, const bf16_t* b, float* c, void* scratch) const noexcept;

  struct Impl;
  explicit Bf16Matmul(Impl* impl, size_t scratch_bytes) noexcept : impl_(impl), scratch_bytes_(scratch_bytes) {}
  Bf16Matmul(const Bf16Matmul&) = delete;
  Bf16Matmul& operator=(const Bf16Matmul&) = delete;

 private:
  Impl* impl_;  // owned by the process-wide cache
  size_t scratch_bytes_;
};

// oneDNN's implementation of bf16 products here ("brg:avx512_core_amx"), or
// null when it has none native to this CPU.
const char* onednn_bf16_implementation() noexcept;

}  // namespace ossrt
