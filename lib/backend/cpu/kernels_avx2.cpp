// The AVX2 + FMA level: the ISA-generic matmul, MoE and Q8_0 kernels instantiated
// for it (attention has its own AVX2 file), and its backend entries.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/onednn_bf16_matmul.h"
#include "backend/cpu/onednn_gemm.h"
#include "util/job_ranges.h"
#include "util/numeric.h"
#include "util/q15.h"
#include "util/thread_buffer.h"

#include "backend/cpu/avx2_target_begin.h"  // up to avx2_target_end.h: AVX2 code

// The level's operations first: the generic kernels are written in them.
#include "backend/cpu/simd_avx2.h"

#include "backend/cpu/matmul_kernel.h"
#include "backend/cpu/moe_kernel.h"
#include "backend/cpu/q8_0_kernel.h"

#include "backend/cpu/avx2_target_end.h"

namespace ossrt::cpu_avx2 {

bool avx_vnni() noexcept {
  static const bool vnni = cpu_features().avx_vnni;
  return vnni;
}

void fill_kernels(Backend& table) noexcept {
  table.matmul_f32_bf16w = matmul_f32_bf16w;
  table.moe_mxfp4_f32 = moe_mxfp4_f32;
  table.embedding_q8_0_f32 = embedding_q8_0_f32;
  table.matmul_f32_q8_0w = matmul_f32_q8_0w;
  table.attention_f32 = attention_f32;
}

}  // namespace ossrt::cpu_avx2
