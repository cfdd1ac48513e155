// The many-token (prefill) product: out(t, r) = sum_i x(t, i) * w(r, i).
// Tokens are packed once into strips of two vectors ([i][2 lanes] floats,
// zero padded); a job's weight rows are widened to fp32 into a per-thread
// buffer; a register tile of Simd::kPanelRows rows x 2 vectors of tokens (per
// input element 2 token loads, a weight broadcast per row, 2 FMAs per row)
// sums the input range in blocks. So each output is summed in a fixed order
// whatever the thread count or level, and the widening of a row is shared by
// every token. Include after kernel_util.h, inside the level's target region.
#pragma once

#include <algorithm>
#include <cstddef>

#include "backend/cpu/kernel_util.h"

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

inline constexpr size_t kPanelRows = Simd::kPanelRows;
inline constexpr size_t kStripVectors = 2;
inline constexpr size_t kStripTokens = kStripVectors * Simd::kLanes;
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

// Packed tokens: strip s holds tokens [S s, S s + S) as [in][S], S = kStripTokens.
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

// total[r][j] += sum_i panel[r][i] * strip[i][j] over `depth` elements, for R
// rows and V vectors of tokens (totals rows `total_stride` floats apart). The loops are
// unrolled whole so the accumulators stay in registers. The sum runs in blocks
// of kSumBlock elements added into the totals, which keeps its rounding error
// near that of the per-token dot kernels' split sums (a single running sum
// over thousands of elements drifts further from them).
inline constexpr size_t kSumBlock = 32;

template <size_t R, size_t V>
void multiply_tile(const float* panel, size_t panel_stride, size_t depth, const float* strip, float* total,
                   size_t total_stride) {
  using Vec = Simd::Vec;
  for (size_t i0 = 0; i0 < depth; i0 += kSumBlock) {
    Vec acc[R][V];
#pragma GCC unroll 16
    for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 2
      for (size_t v = 0; v < V; ++v) acc[r][v] = Simd::zero();
    }
    for (size_t i = i0; i < std::min(i0 + kSumBlock, depth); ++i) {
      Vec x[V];
#pragma GCC unroll 2
      for (size_t v = 0; v < V; ++v) x[v] = Simd::load(strip + i * kStripTokens + Simd::kLanes * v);
#pragma GCC unroll 16
      for (size_t r = 0; r < R; ++r) {
        const Vec w = Simd::set1(panel[r * panel_stride + i]);
#pragma GCC unroll 2
        for (size_t v = 0; v < V; ++v) acc[r][v] = Simd::fmadd(w, x[v], acc[r][v]);
      }
    }
#pragma GCC unroll 16
    for (size_t r = 0; r < R; ++r) {
#pragma GCC unroll 2
      for (size_t v = 0; v < V; ++v) {
        float* sum = total + r * total_stride + Simd::kLanes * v;
        Simd::store(sum, Simd::add(Simd::load(sum), acc[r][v]));
      }
    }
  }
}

// multiply_rows widens all of a job's rows first (in the weights' own
// order, so each row streams from memory once), then visits tokens in blocks
// of kBlockTokens and the input range in blocks of kDepthBlock: a strip's
// depth block (16 KiB) stays in L1 while every row panel of the job passes
// over it. Unblocked, each six rows streamed all the packed tokens from L3
// (5.9 MB for 512 tokens of gpt-oss-20b): 8-10 % slower on the 2-core EPYC VM.
// kDepthBlock is a multiple of kSumBlock, so the sum's blocks, and the
// results, do not depend on it.
inline constexpr size_t kDepthBlock = Simd::kDepthBlock;
static_assert(kDepthBlock % kSumBlock == 0);
inline constexpr size_t kBlockTokens = 256;
static_assert(kBlockTokens % kStripTokens == 0);

// Floats of the per-thread buffer multiply_rows needs for `rows` rows of `in`.
inline size_t multiply_rows_buffer_floats(size_t rows, size_t in) {
  return rows * (in + kBlockTokens);
}

// For weight rows [first, last): widen(r, dst) writes row r as `in` floats in
// the packed tokens' element order; out(t, r, sum) receives every product.
// `buffer` is this thread's multiply_rows_buffer_floats(last - first, in).
template <class Widen, class Out>
void multiply_rows(size_t first, size_t last, const PackedTokens& x, float* buffer, Widen widen, Out out) {
  const size_t rows = last - first, strips = token_strips(x.tokens);
  float* panels = buffer;                // [rows][in]
  float* totals = buffer + rows * x.in;  // [rows][kBlockTokens]
  for (size_t r = 0; r < rows; ++r) widen(first + r, panels + r * x.in);
  for (size_t s0 = 0; s0 < strips; s0 += kBlockTokens / kStripTokens) {
    const size_t s1 = std::min(s0 + kBlockTokens / kStripTokens, strips);
    std::fill(totals, totals + rows * kBlockTokens, 0.0f);
    for (size_t k0 = 0; k0 < x.in; k0 += kDepthBlock) {
      const size_t depth = std::min(kDepthBlock, x.in - k0);
      for (size_t s = s0; s < s1; ++s) {
        const size_t width = std::min(kStripTokens, x.tokens - s * kStripTokens);
        const float* strip = x.strip(s) + k0 * kStripTokens;
        for (size_t p = 0; p < rows; p += kPanelRows) {
          float* total = totals + p * kBlockTokens + (s - s0) * kStripTokens;
          with_count<kStripVectors>((width + Simd::kLanes - 1) / Simd::kLanes, [&](auto vectors) {
            with_count<kPanelRows>(rows - p, [&](auto r) {
              multiply_tile<r, vectors>(panels + p * x.in + k0, x.in, depth, strip, total, kBlockTokens);
            });
          });
        }
      }
    }
    // Token-major, as outputs are laid out: row-major writes a column, one
    // cache line and page per token (9 % of the time for 256 tokens).
    for (size_t t = s0 * kStripTokens; t < std::min(s1 * kStripTokens, x.tokens); ++t) {
      for (size_t r = 0; r < rows; ++r) out(t, first + r, totals[r * kBlockTokens + t - s0 * kStripTokens]);
    }
  }
}

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
