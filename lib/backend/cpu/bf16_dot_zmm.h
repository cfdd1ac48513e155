// The AVX-512 level's Numerics::fast product for one token (decode) or a
// few (batched decode: one token of each of several sessions): weight rows
// as stored (bf16) against the tokens rounded to bf16 once, through
// AVX512-BF16's vdpbf16ps (32 products summed in pairs into 16 fp32 lanes,
// each product exact in fp32), a row at a time for every token
// (matmul_kernel.h's bf16_token_rows). Against fp32 products of widened
// rows it halves the instructions per weight; against oneDNN's bf16
// products it spares the padding of the tokens to 16 and a primitive call
// per 128-row tile (qkv, 8 tokens, 2 threads, Zen 4: 1.19 against 1.44 ms
// in register tiles of 4 rows by 4 tokens, 1.09-1.11 against 1.21-1.33 a
// row at a time). matmul_kernel.h includes it where the level defines
// OSSRT_CPU_Q15_ZMM.
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

// The words of the 32 from p whose bits are set in `mask`, the others zero;
// no other word is read (a masked load does not touch masked-out memory).
OSSRT_BF16_DOT_TARGET inline __attribute__((always_inline)) OSSRT_X86(__m512i)
    load_words(const bf16_t* p, uint32_t mask) {
#if defined(OSSRT_CPU_EMULATE_AVX512)
  // The emulation's masked load reads all 64 bytes.
  alignas(64) bf16_t words[kBf16PerLine] = {};
  for (size_t i = 0; i < kBf16PerLine; ++i) {
    if ((mask >> i & 1) != 0) words[i] = p[i];
  }
  return OSSRT_X86(_mm512_load_si512)(words);
#else
  return OSSRT_X86(_mm512_maskz_loadu_epi16)(mask, p);
#endif
}

// Bits [lo, hi) of a 32-bit mask, lo and hi clamped to [0, 32].
inline uint32_t word_mask(ptrdiff_t lo, ptrdiff_t hi) {
  const auto bits_below = [](ptrdiff_t n) { return (uint64_t{1} << std::clamp<ptrdiff_t>(n, 0, kBf16PerLine)) - 1; };
  return static_cast<uint32_t>(bits_below(hi) & ~bits_below(lo));
}

// dot(w[0..count), x[0..count)) for count < 32 values: the products of the
// missing values are zero.
OSSRT_BF16_DOT_TARGET inline OSSRT_X86(__m512) partial_line_dot(const bf16_t* w, const bf16_t* x, size_t count) {
  const uint32_t mask = word_mask(0, static_cast<ptrdiff_t>(count));
  OSSRT_X86(__m512bh) w_pairs, x_pairs;
  const OSSRT_X86(__m512i) w_words = load_words(w, mask), x_words = load_words(x, mask);
  std::memcpy(&w_pairs, &w_words, sizeof w_pairs);
  std::memcpy(&x_pairs, &x_words, sizeof x_pairs);
  return OSSRT_X86(_mm512_dpbf16_ps)(OSSRT_X86(_mm512_setzero_ps)(), w_pairs, x_pairs);
}

// Line j of the aligned 64-byte lines that hold a row of `in` values from w
// (lead: w's offset into its line, in values): loaded whole where the row
// covers it, else its row values alone (load_words), so nothing outside the
// row is read.
OSSRT_BF16_DOT_TARGET inline __attribute__((always_inline)) OSSRT_X86(__m512i)
    row_line(const bf16_t* w, size_t in, size_t lead, size_t j) {
  const ptrdiff_t first = static_cast<ptrdiff_t>(j * kBf16PerLine) - static_cast<ptrdiff_t>(lead);
  const ptrdiff_t last = first + static_cast<ptrdiff_t>(kBf16PerLine), values = static_cast<ptrdiff_t>(in);
  if (first >= 0 && last <= values) return OSSRT_X86(_mm512_load_si512)(w + first);
  const auto* line =
      reinterpret_cast<const bf16_t*>(reinterpret_cast<uintptr_t>(w) + static_cast<uintptr_t>(first) * sizeof(bf16_t));
  return load_words(line, word_mask(-first, values - first));
}

// sums[t] = dot(row, x[t]) for one row and NT bf16 tokens, a row at a time
// as matmul_kernel.h's dot_row, four accumulators a token against
// vdpbf16ps's latency. The row is read in whole aligned lines (row_line)
// and each 32-value chunk of it put together from two of them (vpermt2w),
// so the loads never straddle lines and every value meets the lane it would
// at any address: the sums do not depend on where the weights sit, nor on
// how many tokens share the row (a session's token sums alike alone and in
// a batch). A mapped safetensors file's tensors start wherever its header
// ends (the synthetic gpt-oss-20b: 48 bytes into a line; a copy in memory
// puts them on a line, MappedFile::open), and 64-byte loads
// across two lines cost a row at a time a third of its rate (standalone
// loop, 2 threads, Zen 4: 46 against 66 GB/s).
template <size_t NT>
OSSRT_BF16_DOT_TARGET inline void bf16_dot_row(const bf16_t* w, size_t in, const bf16_t* const* x, float* sums,
                                               LinesAhead ahead = {}) {
  constexpr size_t U = 4;
  const size_t lead = reinterpret_cast<uintptr_t>(w) % 64 / sizeof(bf16_t), chunks = in / kBf16PerLine;
  // Chunk k, the row's values [32k, 32k + 32), is words lead .. lead + 31 of lines k and k + 1.
  alignas(64) static constexpr uint16_t kWords[kBf16PerLine] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
                                                                11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                                                22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
  const OSSRT_X86(__m512i) chunk_words = OSSRT_X86(_mm512_add_epi16)(
      OSSRT_X86(_mm512_load_si512)(kWords), OSSRT_X86(_mm512_set1_epi16)(static_cast<short>(lead)));
  OSSRT_X86(__m512i) line = row_line(w, in, lead, 0);
  OSSRT_X86(__m512) acc[U][NT];
  for (auto& chain : acc) {
    for (auto& a : chain) a = OSSRT_X86(_mm512_setzero_ps)();
  }
  size_t until_ahead = 0;  // chunks before the next line asked for ahead
  // Chunk k into one chain of accumulators, its second line `next`.
  const auto chunk_dot = [&](size_t k, OSSRT_X86(__m512i) next, OSSRT_X86(__m512)(&chain)[NT]) OSSRT_BF16_DOT_TARGET {
    ahead.step(until_ahead);
    const OSSRT_X86(__m512i) chunk = OSSRT_X86(_mm512_permutex2var_epi16)(line, chunk_words, next);
    OSSRT_X86(__m512bh) pairs;
    std::memcpy(&pairs, &chunk, sizeof pairs);
    for (size_t t = 0; t < NT; ++t) {
      chain[t] = OSSRT_X86(_mm512_dpbf16_ps)(chain[t], pairs, load_bf16_pairs(x[t] + k * kBf16PerLine));
    }
    line = next;
  };
  // Chunks [0, whole) find their second line inside the row: loaded as it
  // is, with no test in the loop (a path that may load part of a line there
  // kept the accumulators in memory); the rest through row_line.
  const bf16_t* lines = w - lead;
  const size_t whole = std::min(chunks, (in + lead) / kBf16PerLine - 1);
  size_t k = 0;
  for (; k + U <= whole; k += U) {
    for (size_t u = 0; u < U; ++u) {
      chunk_dot(k + u, OSSRT_X86(_mm512_load_si512)(lines + (k + u + 1) * kBf16PerLine), acc[u]);
    }
  }
  for (; k < chunks; ++k) {
    const OSSRT_X86(__m512i) next = row_line(w, in, lead, k + 1);
    switch (k % U) {
      case 0:
        chunk_dot(k, next, acc[0]);
        break;
      case 1:
        chunk_dot(k, next, acc[1]);
        break;
      case 2:
        chunk_dot(k, next, acc[2]);
        break;
      default:
        chunk_dot(k, next, acc[3]);
        break;
    }
  }
  const size_t done = chunks * kBf16PerLine;
  for (size_t t = 0; t < NT; ++t) {
    if (done < in) acc[2][t] = OSSRT_X86(_mm512_add_ps)(acc[2][t], partial_line_dot(w + done, x[t] + done, in - done));
    sums[t] = Simd::sum(OSSRT_X86(_mm512_add_ps)(OSSRT_X86(_mm512_add_ps)(acc[0][t], acc[1][t]),
                                                 OSSRT_X86(_mm512_add_ps)(acc[2][t], acc[3][t])));
  }
}

}  // namespace

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
