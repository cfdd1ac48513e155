// The AVX-512 level's Numerics::fast product for one token (decode) or a
// few (batched decode: one token of each of several sessions): weight rows as stored
// (bf16) against the tokens rounded to bf16 once, through AVX512-BF16's
// vdpbf16ps (32 products summed in pairs into 16 fp32 lanes, each product
// exact in fp32), a register tile of rows by tokens (matmul_kernel.h's
// few-token loop). Against fp32 products of widened rows it halves the
// instructions per weight; against oneDNN's bf16 products it spares the
// padding of the tokens to 16 and a primitive call per 128-row tile (qkv, 8
// tokens, 2 threads, Zen 5: 1.19 against 1.44 ms). matmul_kernel.h includes
// it where the level defines OSSRT_CPU_Q15_ZMM.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backend/cpu/kernel_util.h"

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

// Whether the CPU has AVX512-BF16 (the level's kernel file answers; the
// tests' emulation says yes).
bool bf16_dot() noexcept;

#if defined(OSSRT_CPU_EMULATE_AVX512)
#define OSSRT_BF16_DOT_TARGET
#else
#define OSSRT_BF16_DOT_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512bf16")))
#endif

namespace {

inline OSSRT_X86(__m512bh) load_bf16_pairs(const bf16_t* p) {
  OSSRT_X86(__m512bh) v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// R rows `in` apart against NT bf16 tokens over inputs [k0, k1) (multiples
// of 32), accumulating into acc[r][t]; `next` as for matmul_kernel.h's
// dot_tile_chunk (few_token_rows sets it). One token's loop leaves the
// hardware prefetcher enough lines in flight: software prefetches there
// slowed it (one thread, Zen 5: 23-26 against 28-32 GB/s), where a few
// tokens' products need them.
template <size_t R, size_t NT>
OSSRT_BF16_DOT_TARGET void bf16_dot_chunk(const bf16_t* w, size_t in, size_t k0, size_t k1, const bf16_t* const* x,
                                          OSSRT_X86(__m512) (*acc)[NT], const bf16_t* next) {
  OSSRT_X86(__m512) sums[R][NT];
  for (size_t r = 0; r < R; ++r) {
    for (size_t t = 0; t < NT; ++t) sums[r][t] = acc[r][t];
  }
  for (size_t i = k0; i < k1; i += kBf16PerLine) {
    if (next != nullptr) {
      for (size_t r = 0; r < R; ++r) prefetch_to_l2_at(next + r * in + (i - k0));
    }
    OSSRT_X86(__m512bh) xv[NT];
    for (size_t t = 0; t < NT; ++t) xv[t] = load_bf16_pairs(x[t] + i);
    for (size_t r = 0; r < R; ++r) {
      const OSSRT_X86(__m512bh) wv = load_bf16_pairs(w + r * in + i);
      for (size_t t = 0; t < NT; ++t) sums[r][t] = OSSRT_X86(_mm512_dpbf16_ps)(sums[r][t], wv, xv[t]);
    }
  }
  for (size_t r = 0; r < R; ++r) {
    for (size_t t = 0; t < NT; ++t) acc[r][t] = sums[r][t];
  }
}

// dot(w[0..count), x[0..count)) for count < 32 values: a partial line
// through zero-padded copies, whose products add nothing.
OSSRT_BF16_DOT_TARGET inline OSSRT_X86(__m512) partial_line_dot(const bf16_t* w, const bf16_t* x, size_t count) {
  alignas(64) bf16_t w_line[kBf16PerLine] = {}, x_line[kBf16PerLine] = {};
  std::memcpy(w_line, w, count * sizeof(bf16_t));
  std::memcpy(x_line, x, count * sizeof(bf16_t));
  return OSSRT_X86(_mm512_dpbf16_ps)(OSSRT_X86(_mm512_setzero_ps)(), load_bf16_pairs(w_line), load_bf16_pairs(x_line));
}

// Line j of the aligned 64-byte lines that hold a row of `in` values from w
// (lead: w's offset into its line, in values): loaded whole where the row
// covers it, else its row values in a zero-padded copy, so nothing outside
// the row is read.
OSSRT_BF16_DOT_TARGET inline __attribute__((always_inline)) OSSRT_X86(__m512i)
    row_line(const bf16_t* w, size_t in, size_t lead, size_t j) {
  const ptrdiff_t first = static_cast<ptrdiff_t>(j * kBf16PerLine) - static_cast<ptrdiff_t>(lead);
  const ptrdiff_t last = first + static_cast<ptrdiff_t>(kBf16PerLine), values = static_cast<ptrdiff_t>(in);
  if (first >= 0 && last <= values) return OSSRT_X86(_mm512_load_si512)(w + first);
  alignas(64) bf16_t copy[kBf16PerLine] = {};
  const ptrdiff_t from = std::max<ptrdiff_t>(first, 0), to = std::min(last, values);
  if (from < to) std::memcpy(copy + (from - first), w + from, static_cast<size_t>(to - from) * sizeof(bf16_t));
  return OSSRT_X86(_mm512_load_si512)(copy);
}

// dot(row, x) for one row and one bf16 token (decode), a row at a time as
// matmul_kernel.h's dot_row, four accumulators deep against vdpbf16ps's
// latency. The row is read in whole aligned lines (row_line) and each
// 32-value chunk of it put together from two of them (vpermt2w), so the
// loads never straddle lines and every value meets the lane it would at any
// address: the sums do not depend on where the weights sit. A safetensors
// file's tensors start wherever its header ends (the synthetic gpt-oss-20b:
// 48 bytes into a line), and 64-byte loads across two lines cost a row at a
// time a third of its rate (standalone loop, 2 threads, Zen 5: 46 against
// 66 GB/s).
OSSRT_BF16_DOT_TARGET inline float bf16_dot_row(const bf16_t* w, size_t in, const bf16_t* x) {
  constexpr size_t U = 4;
  const size_t lead = reinterpret_cast<uintptr_t>(w) % 64 / sizeof(bf16_t), chunks = in / kBf16PerLine;
  // Chunk k, the row's values [32k, 32k + 32), is words lead .. lead + 31 of lines k and k + 1.
  alignas(64) static constexpr uint16_t kWords[kBf16PerLine] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                                                11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                                                22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
  const OSSRT_X86(__m512i) chunk_words = OSSRT_X86(_mm512_add_epi16)(
      OSSRT_X86(_mm512_load_si512)(kWords), OSSRT_X86(_mm512_set1_epi16)(static_cast<short>(lead)));
  OSSRT_X86(__m512i) line = row_line(w, in, lead, 0);
  OSSRT_X86(__m512) acc[U];
  for (auto& a : acc) a = OSSRT_X86(_mm512_setzero_ps)();
  const auto chunk_dot = [&](size_t k, OSSRT_X86(__m512) & sum) OSSRT_BF16_DOT_TARGET {
    const OSSRT_X86(__m512i) next = row_line(w, in, lead, k + 1);
    const OSSRT_X86(__m512i) chunk = OSSRT_X86(_mm512_permutex2var_epi16)(line, chunk_words, next);
    OSSRT_X86(__m512bh) pairs;
    std::memcpy(&pairs, &chunk, sizeof pairs);
    sum = OSSRT_X86(_mm512_dpbf16_ps)(sum, pairs, load_bf16_pairs(x + k * kBf16PerLine));
    line = next;
  };
  size_t k = 0;
  for (; k + U <= chunks; k += U) {
    for (size_t u = 0; u < U; ++u) chunk_dot(k + u, acc[u]);
  }
  for (; k < chunks; ++k) chunk_dot(k, acc[0]);
  const size_t done = chunks * kBf16PerLine;
  if (done < in) acc[2] = OSSRT_X86(_mm512_add_ps)(acc[2], partial_line_dot(w + done, x + done, in - done));
  return Simd::sum(
      OSSRT_X86(_mm512_add_ps)(OSSRT_X86(_mm512_add_ps)(acc[0], acc[1]), OSSRT_X86(_mm512_add_ps)(acc[2], acc[3])));
}

}  // namespace

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
