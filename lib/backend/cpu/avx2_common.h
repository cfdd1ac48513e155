// Helpers shared by the AVX2 kernels; include only from files compiled for AVX2.
#pragma once

#include <immintrin.h>

#include <cstddef>

#include "backend/backend.h"

namespace ossrt::cpu_avx2 {

// Eight bf16 values widened to fp32 (exact: bf16 is the top half of fp32).
inline __m256 load_bf16x8(const bf16_t* p) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(raw), 16));
}

inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

}  // namespace ossrt::cpu_avx2
