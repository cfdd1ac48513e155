// The fast CPU kernels, one set per instruction-set level, each level in its
// own translation units compiled for that level only (so a build without
// -march=native still has them; they run only where cpu_features() allows).
// Each entry computes what the scalar reference in backend/cpu_ref computes,
// up to float summation order.
#pragma once

#include "backend/backend.h"

namespace ossrt::cpu_avx2 {

// Shapes the vector path takes (head_dim a multiple of 8, at most 64 query
// heads per kv head); others go to the reference.
bool attention_supported(const AttentionArgs& args);
void attention_f32(void* self, const AttentionArgs& args);  // the avx512 level's too

// Puts this level's kernels into `table`.
void fill_kernels(Backend& table) noexcept;

}  // namespace ossrt::cpu_avx2

namespace ossrt::cpu_avx512 {

void fill_kernels(Backend& table) noexcept;

}  // namespace ossrt::cpu_avx512

namespace ossrt {

enum class CpuIsa;
// The CPU backend's table with the kernels of `isa` (scalar: the reference).
const Backend& cpu_backend(CpuIsa isa) noexcept;

}  // namespace ossrt
