// Helpers shared by the AVX2 kernels; include only inside an AVX2 target
// region (avx2_target_begin.h), after every shared header.
#pragma once

#ifndef OSSRT_AVX2_TARGET_REGION
#error "include backend/cpu/avx2_target_begin.h before this header"
#endif

#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "backend/backend.h"
#include "util/numeric.h"

namespace ossrt::cpu_avx2 {

// How far ahead the streaming weight kernels prefetch. The hardware
// prefetcher alone left MoE decode at half the speed of the same loop on
// cached data (8.2 ms vs 4.3 ms for 4 experts of gpt-oss-20b on the 2-core
// EPYC VM); a software prefetch a few rows ahead closes that gap.
inline constexpr size_t kPrefetchBytes = 2048;

inline void prefetch_ahead(const void* p) {
  _mm_prefetch(static_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
}

// Eight bf16 values widened to fp32 (exact: bf16 is the top half of fp32).
inline __m256 load_bf16x8(const bf16_t* p) {
  const __m128i raw = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(raw), 16));
}

// Calls f(std::integral_constant<size_t, N>{}) with N = min(n, Max) for
// n >= 1 (n = 0: no call). The register-blocked kernels take their block
// sizes (tokens, rows, vectors) as template arguments so that every loop over
// them unrolls and their accumulators stay in registers; this picks the
// instance for a runtime tail.
template <size_t Max, class F>
inline void with_count(size_t n, F&& f) {
  const size_t clamped = std::min(n, Max);
  [&]<size_t... I>(std::index_sequence<I...>) {
    static_cast<void>(((clamped == I + 1 ? (f(std::integral_constant<size_t, I + 1>{}), true) : false) || ...));
  }
  (std::make_index_sequence<Max>{});
}

// dst[0, count) = src widened to fp32, eight at a time.
inline void widen_bf16(const bf16_t* src, size_t count, float* dst) {
  size_t i = 0;
  for (; i + 8 <= count; i += 8) _mm256_storeu_ps(dst + i, load_bf16x8(src + i));
  for (; i < count; ++i) dst[i] = bf16_to_f32(src[i]);
}

inline float horizontal_sum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// e^x for 8 lanes, within 2 ulp of std::exp for x in [-87.3, 88]; lanes below
// -87.3 give 0 (std::exp gives a denormal under 1.2e-38 there). Range
// reduction x = n ln2 + r with ln2 split in two, then a degree-6 polynomial.
inline __m256 exp_ps(__m256 x) {
  const __m256 underflow = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(exponent)));
}

}  // namespace ossrt::cpu_avx2
