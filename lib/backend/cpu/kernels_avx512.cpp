// The AVX-512 level: the ISA-generic matmul, MoE, Q8_0 and attention kernels
// instantiated for it, and its backend entries. Compiled a second time by the
// tests with OSSRT_CPU_EMULATE_AVX512, on SIMDe (see simd_avx512.h).
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/mxfp4_tiles.h"
#include "backend/cpu/onednn_bf16_matmul.h"
#include "backend/cpu/onednn_gemm.h"
#include "util/job_ranges.h"
#include "util/numeric.h"
#include "util/q15.h"
#include "util/thread_buffer.h"

#if !defined(OSSRT_CPU_EMULATE_AVX512)
#include "backend/cpu/avx512_target_begin.h"  // up to avx512_target_end.h: AVX-512 code
#endif

// The level's operations first: the generic kernels are written in them.
#include "backend/cpu/simd_avx512.h"

#include "backend/cpu/matmul_kernel.h"
#include "backend/cpu/moe_kernel.h"
#include "backend/cpu/q8_0_kernel.h"

#include "backend/cpu/attention_kernel.h"

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

// Head sizes that are a multiple of 8 but not of 16 take the AVX2 kernel.
void attention_f32(void* self, const AttentionArgs& a) {
  if (!attention::shape_fits(a)) return cpu_avx2::attention_f32(self, a);
  attention::run(a);
}

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE

#if !defined(OSSRT_CPU_EMULATE_AVX512)
#include "backend/cpu/avx512_target_end.h"
#endif

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

#if !defined(OSSRT_CPU_EMULATE_AVX512)
bool q15_vnni() noexcept {
  static const bool vnni = cpu_features().avx512_vnni;
  return vnni;
}
bool bf16_dot() noexcept {
  return bf16_dot_products_pay();
}
bool mxfp4_q8_products() noexcept {
  static const bool q8 = cpu_features().avx512_vnni && cpu_features().avx512_vbmi;
  return q8;
}
#endif

// Backend::tile_experts: the tiles of mxfp4_tiles.h, where the CPU has the
// byte products that read them (mxfp4_q8_products).
bool tile_experts(void*, uint8_t* blocks, uint8_t* scales, size_t experts, size_t rows, size_t count) {
  if (!mxfp4_q8_products()) return false;
  try {
    PerThreadArray<uint8_t> scratch(mxfp4_tile_scratch_bytes(count));
    const long long matrices = static_cast<long long>(experts);
#pragma omp parallel for schedule(static)
    for (long long e = 0; e < matrices; ++e) {
      const size_t expert = static_cast<size_t>(e);
      tile_mxfp4_matrix(blocks + expert * rows * count * kMxfp4BlockBytes, scales + expert * rows * count, rows, count,
                        scratch.mine());
    }
  } catch (const std::bad_alloc&) {
    return false;
  }
  return true;
}

void fill_kernels(Backend& table) noexcept {
  table.tile_experts = tile_experts;
  table.matmul_f32_bf16w = matmul_f32_bf16w;
  table.moe_mxfp4_f32 = moe_mxfp4_f32;
  table.embedding_q8_0_f32 = embedding_q8_0_f32;
  table.matmul_f32_q8_0w = matmul_f32_q8_0w;
  table.attention_f32 = attention_f32;
}

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
