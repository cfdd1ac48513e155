// An 8x8 transpose of 32-bit lanes in eight 256-bit registers, written in the
// level's intrinsic names (OSSRT_X86, simd_<level>.h), so both levels'
// kernels share it: include it inside the level's target region, after its
// simd header; it lands in the level's namespace.
#pragma once

#ifndef OSSRT_CPU_KERNEL_NAMESPACE
#error "include a backend/cpu/simd_<level>.h header before this one"
#endif

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

// rows[i] lane j becomes rows[j] lane i.
inline void transpose8x8(OSSRT_X86(__m256) (&rows)[8]) {
  using Float = OSSRT_X86(__m256);
  Float t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = OSSRT_X86(_mm256_unpacklo_ps)(rows[2 * i], rows[2 * i + 1]);
    t[2 * i + 1] = OSSRT_X86(_mm256_unpackhi_ps)(rows[2 * i], rows[2 * i + 1]);
  }
  for (int i = 0; i < 2; ++i) {
    u[4 * i] = OSSRT_X86(_mm256_shuffle_ps)(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = OSSRT_X86(_mm256_shuffle_ps)(t[4 * i], t[4 * i + 2], 0xee);
    u[4 * i + 2] = OSSRT_X86(_mm256_shuffle_ps)(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = OSSRT_X86(_mm256_shuffle_ps)(t[4 * i + 1], t[4 * i + 3], 0xee);
  }
  for (int i = 0; i < 4; ++i) {
    rows[i] = OSSRT_X86(_mm256_permute2f128_ps)(u[i], u[i + 4], 0x20);
    rows[i + 4] = OSSRT_X86(_mm256_permute2f128_ps)(u[i], u[i + 4], 0x31);
  }
}

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
