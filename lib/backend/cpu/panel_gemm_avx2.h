// The many-token (prefill) product for AVX2 + FMA: out(t, r) = sum_i x(t, i) *
// w(r, i). Tokens are packed once into strips of 16 ([i][16] floats, zero
// padded); weight rows are widened to fp32 six at a time into a per-thread
// panel; a 6-row x 16-token register tile (12 accumulators; per input element
// 2 token loads, 6 weight broadcasts, 12 FMAs) sums the whole input range. So
// each output is summed in a fixed order whatever the thread count, and the
// widening of a row is shared by every token.
// Include only inside an AVX2 target region (avx2_target_begin.h).
#pragma once

#include <algorithm>
#include <cstddef>

#include "backend/cpu/avx2_common.h"

namespace ossrt::cpu_avx2 {

inline constexpr size_t kPanelRows = 6;
inline constexpr size_t kStripTokens = 16;
// Below this many tokens the per-token dot kernels win: the panel path
// widens every weight row to memory once more than they do.
inline constexpr size_t kPanelMinTokens = 8;

inline size_t token_strips(size_t tokens) {
  return (tokens + kStripTokens - 1) / kStripTokens;
}

// Floats a packing of `tokens` rows of `in` elements occupies.
inline size_t packed_tokens_floats(size_t tokens, size_t in) {
  return token_strips(tokens) * kStripTokens * in;
}

// Packed tokens: strip s holds tokens [16 s, 16 s + 16) as [in][16].
struct PackedTokens {
  const float* data;
  size_t tokens, in;
  const float* strip(size_t s) const { return data + s * in * kStripTokens; }
};

// Packs strip `s` of `tokens` rows of `in` floats (row(t) points at token t)
// into `dst` (packed_tokens_floats in size), zero-padding the last strip.
template <class Row>
void pack_token_strip(size_t s, size_t tokens, size_t in, Row row, float* dst) {
  float* out = dst + s * in * kStripTokens;
  for (size_t j = 0; j < kStripTokens; ++j) {
    const size_t t = s * kStripTokens + j;
    if (t < tokens) {
      const float* x = row(t);
      for (size_t i = 0; i < in; ++i) out[i * kStripTokens + j] = x[i];
    } else {
      for (size_t i = 0; i < in; ++i) out[i * kStripTokens + j] = 0.0f;
    }
  }
}

// tile[r][j] = sum_i panel[r][i] * strip[i][j] for R rows and 8V tokens. The
// loops are unrolled whole so the accumulators stay in registers. The sum runs
// in blocks of kSumBlock elements added into the tile, which keeps its
// rounding error near that of the per-token dot kernels' split sums (a single
// running sum over thousands of elements drifts further from them).
inline constexpr size_t kSumBlock = 32;

template <size_t R, size_t V>
void multiply_tile(const float* panel, size_t in, const float* strip, float* tile) {
#pragma GCC unroll 8
  for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 2
    for (size_t v = 0; v < V; ++v) _mm256_storeu_ps(tile + r * kStripTokens + 8 * v, _mm256_setzero_ps());
  }
  for (size_t i0 = 0; i0 < in; i0 += kSumBlock) {
    __m256 acc[R][V];
#pragma GCC unroll 8
    for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 2
      for (size_t v = 0; v < V; ++v) acc[r][v] = _mm256_setzero_ps();
    }
    for (size_t i = i0; i < std::min(i0 + kSumBlock, in); ++i) {
      __m256 x[V];
#pragma GCC unroll 2
      for (size_t v = 0; v < V; ++v) x[v] = _mm256_loadu_ps(strip + i * kStripTokens + 8 * v);
#pragma GCC unroll 8
      for (size_t r = 0; r < R; ++r) {
        const __m256 w = _mm256_broadcast_ss(panel + r * in + i);
#pragma GCC unroll 2
        for (size_t v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(w, x[v], acc[r][v]);
      }
    }
#pragma GCC unroll 8
    for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 2
      for (size_t v = 0; v < V; ++v) {
        float* total = tile + r * kStripTokens + 8 * v;
        _mm256_storeu_ps(total, _mm256_add_ps(_mm256_loadu_ps(total), acc[r][v]));
      }
    }
  }
}

// For weight rows [first, last): widen(r, dst) writes row r as `in` floats in
// the packed tokens' element order; out(t, r, sum) receives every product.
// `panel` is this thread's buffer of kPanelRows * in floats.
template <class Widen, class Out>
void multiply_rows(size_t first, size_t last, const PackedTokens& x, float* panel, Widen widen, Out out) {
  alignas(32) float tile[kPanelRows * kStripTokens];
  for (size_t r0 = first; r0 < last; r0 += kPanelRows) {
    const size_t rows = std::min(kPanelRows, last - r0);
    for (size_t r = 0; r < rows; ++r) widen(r0 + r, panel + r * x.in);
    for (size_t s = 0; s < token_strips(x.tokens); ++s) {
      const size_t width = std::min(kStripTokens, x.tokens - s * kStripTokens);
      with_count<kStripTokens / 8>((width + 7) / 8, [&](auto vectors) {
        with_count<kPanelRows>(rows, [&](auto r) { multiply_tile<r, vectors>(panel, x.in, x.strip(s), tile); });
      });
      for (size_t r = 0; r < rows; ++r) {
        for (size_t j = 0; j < width; ++j) out(s * kStripTokens + j, r0 + r, tile[r * kStripTokens + j]);
      }
    }
  }
}

}  // namespace ossrt::cpu_avx2
