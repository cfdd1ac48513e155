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
      for (size_t r = 0; r < R; ++r) prefetch_at(next + r * in + (i - k0));
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

// sums[r] = dot(row r, x) for R rows `in` apart and one bf16 token (decode).
template <size_t R>
OSSRT_BF16_DOT_TARGET void bf16_dot_rows(const bf16_t* w, size_t in, const bf16_t* x, float (&sums)[R][1]) {
  const size_t vector_end = in - in % kBf16PerLine;
  OSSRT_X86(__m512) acc[R][1];
  for (auto& row : acc) row[0] = OSSRT_X86(_mm512_setzero_ps)();
  bf16_dot_chunk<R, 1>(w, in, 0, vector_end, &x, acc, nullptr);
  for (size_t r = 0; r < R; ++r) {
    float sum = Simd::sum(acc[r][0]);
    for (size_t k = vector_end; k < in; ++k) sum += bf16_to_f32(w[r * in + k]) * bf16_to_f32(x[k]);
    sums[r][0] = sum;
  }
}

}  // namespace

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
