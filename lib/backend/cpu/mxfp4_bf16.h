// MXFP4 rows times bf16 vectors, where the CPU has AVX512-BF16 (and not
// both VNNI and VBMI: mxfp4_q8.h there): the products of expert groups too
// small for the panel products (a decoded token's experts, a batched step's
// 1-4-token groups). On the AVX-512 level
// a group of 4 blocks' 64 code bytes becomes 4 registers of bf16 weights
// through 4 vpermw (the FP4 values in a table, each 16-bit word's 4 nibbles
// in turn as its index), each multiplied by a token's bf16 inputs with one
// vdpbf16ps (the products exact in fp32), then one FMA per group applies
// the blocks' scales. Numerics::fast rounds the inputs to bf16, as the big
// groups' bf16 products do (MoeArgs::bf16_products): per 4 blocks 11
// operations shared by the tokens and 5 per token, against 12 and 10 for
// the Q15 digits (mxfp4_q15_zmm.h). Standalone loop on the Zen 4 VM, gpt-oss
// rows: one core on cached rows 1 / 2 / 4 tokens 42 / 29 / 18 GB/s of
// weights against 28 / 16 / 8 for the Q15 products; 2 threads from memory
// 41 / 38 / 29 against 39 / 24 / 11. Exact numerics splits each fp32 input
// into three bf16 terms that sum to it exactly, so the products stay exact
// and only the fp32 sums' order differs (13 operations per token, 14 for a
// lone token's two chains, against the fp32 products' 8 plus 24 shared;
// vdpbf16ps flushes terms below 2^-126, inputs under about 2^-110, to
// zero). The MoE takes them for a lone token only (bf16_terms_multiply).
// Include once per level's kernel file, after its simd header; on levels
// without the 512-bit products (no OSSRT_CPU_Q15_ZMM) only the layout
// exists, and mxfp4_bf16_products() says false.
#pragma once

#include <cmath>
#include <cstring>
#include <vector>

#include "backend/cpu/mxfp4_q15.h"
#include "util/aligned_vector.h"
#include "util/numeric.h"

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

// Vectors of `width` elements (a multiple of 32) as `terms` bf16 vectors
// each, in the order the products read them: blocks in groups of 4, then a
// pair, then a single last block (q15_group). A group of G blocks from block
// b0 holds 4 parts of 8G words from word 32 * b0: in part k, word 8q + m is
// element 4m + k of block b0 + q, the element whose code is nibble k of the
// 16-bit word m of that block's codes. One term: each element rounded to
// bf16 (Numerics::fast); three: each element exactly, as the sum of its
// terms, 8 bits each of its 24 (Numerics::exact: the products of FP4
// values, 2 significant bits, by 8-bit terms are exact in fp32).
class Mxfp4Bf16Vectors {
 public:
  Mxfp4Bf16Vectors(size_t count, size_t width, size_t terms)
      : width_(width), terms_(terms), values_(count * width * terms) {}

  // Vector v's first term; term p follows at + p * width.
  const bf16_t* vector(size_t v) const { return values_.data() + v * width_ * terms_; }

  // Vector v from src, whose block element j sits at src[block start + position(j)].
  template <class Position>
  void pack(size_t v, const float* src, Position position) {
    const size_t blocks = width_ / kMxfp4BlockElements;
    bf16_t* dst = values_.data() + v * width_ * terms_;
    for (size_t b = 0; b < blocks;) {
      const Q15Group group = q15_group(b, blocks, 4);
      for (size_t q = 0; q < group.size; ++q, ++b) {
        bf16_t* block = dst + group.first * kMxfp4BlockElements + q * 8;
        const float* from = src + b * kMxfp4BlockElements;
        for (size_t j = 0; j < kMxfp4BlockElements; ++j) {
          bf16_t* slot = block + j % 4 * 8 * group.size + j / 4;
          float rest = from[position(j)];
          for (size_t p = 0; p < terms_; ++p) {
            slot[p * width_] = f32_to_bf16(rest);
            // What the term leaves is exact in fp32; a non-finite element is its first term alone.
            rest = std::isfinite(rest) ? rest - bf16_to_f32(slot[p * width_]) : 0.0f;
          }
        }
      }
    }
  }

 private:
  size_t width_, terms_;
  CacheLineVector<bf16_t> values_;
};

#if defined(OSSRT_CPU_Q15_ZMM)

namespace mxfp4_bf16_detail {

using Zint = OSSRT_X86(__m512i);
using Yint = OSSRT_X86(__m256i);

template <class To, class From>
inline To as(From v) {
  static_assert(sizeof(To) == sizeof(From));
  To to;
  std::memcpy(&to, &v, sizeof to);
  return to;
}
inline OSSRT_X86(__m512bh) load_zmm(const bf16_t* p) {
  return as<OSSRT_X86(__m512bh)>(OSSRT_X86(_mm512_loadu_si512)(p));
}

// 16 bytes from p in a 256-bit register's lower half, the upper half zero.
inline Yint load_low(const void* p) {
  return OSSRT_X86(_mm256_zextsi128_si256)(OSSRT_X86(_mm_loadu_si128)(static_cast<const OSSRT_X86(__m128i)*>(p)));
}

// The FP4 values in bf16 by code, twice: a 512-bit vpermw reads 5 bits of
// each index word, whose bit 4 is then the next nibble's lowest (256-bit
// vpermw reads 4 bits and takes the first 16).
inline Zint value_table() {
  static const struct Table {
    bf16_t words[32];
    Table() {
      for (size_t i = 0; i < 32; ++i) words[i] = f32_to_bf16(kFp4Values[i % 16]);
    }
  } table;
  return OSSRT_X86(_mm512_loadu_si512)(table.words);
}

// Accumulators of one token's products in a group: a token's three exact
// terms chain 12 vdpbf16ps, each waiting for the last; alone in its row
// (decode) that chain, not the loads or the arithmetic, was the bound, and
// two chains of 6 took one token's experts from 2.94-3.02 to 2.62-2.64 ms
// a layer (2 threads, Zen 4 VM, the builds alternating). Several tokens are
// independent chains already, and one rounded term's 4 products are not
// worth the extra addition.
template <size_t NT, size_t Terms>
constexpr size_t kChains = NT == 1 && Terms > 1 ? 2 : 1;

// acc[t] += the 4 blocks from block g of the row times x[t] (Terms terms,
// `stride` apart), lane l holding 2 of block g + l / 4's products per term
// with its scale applied.
template <size_t NT, size_t Terms>
OSSRT_BF16_DOT_TARGET inline __attribute__((always_inline)) void add_group(const uint8_t* blocks, const uint8_t* scales,
                                                                           size_t g, const bf16_t* const* x,
                                                                           size_t stride, Zint table,
                                                                           OSSRT_X86(__m512) (&acc)[NT]) {
  q15_zmm_detail::prefetch_past_group(blocks + g * kMxfp4BlockBytes);
  const Zint raw = q15_zmm_detail::load_group(blocks + g * kMxfp4BlockBytes);
  // Shift counts spelled out: SIMDe's shifts under clang take only constants.
  const Zint parts[4] = {OSSRT_X86(_mm512_permutexvar_epi16)(raw, table),
                         OSSRT_X86(_mm512_permutexvar_epi16)(OSSRT_X86(_mm512_srli_epi16)(raw, 4), table),
                         OSSRT_X86(_mm512_permutexvar_epi16)(OSSRT_X86(_mm512_srli_epi16)(raw, 8), table),
                         OSSRT_X86(_mm512_permutexvar_epi16)(OSSRT_X86(_mm512_srli_epi16)(raw, 12), table)};
  const OSSRT_X86(__m512) powers = q15_zmm_detail::group_powers(scales + g);
  for (size_t t = 0; t < NT; ++t) {
    const bf16_t* xt = x[t] + g * kMxfp4BlockElements;
    OSSRT_X86(__m512) dots[kChains<NT, Terms>];
    for (auto& dot : dots) dot = OSSRT_X86(_mm512_setzero_ps)();
    for (size_t p = 0; p < Terms; ++p) {
      for (size_t k = 0; k < 4; ++k) {
        auto& dot = dots[k % kChains<NT, Terms>];
        dot = OSSRT_X86(_mm512_dpbf16_ps)(dot, as<OSSRT_X86(__m512bh)>(parts[k]), load_zmm(xt + p * stride + 32 * k));
      }
    }
    if constexpr (kChains<NT, Terms> == 2) dots[0] = OSSRT_X86(_mm512_add_ps)(dots[0], dots[1]);
    acc[t] = OSSRT_X86(_mm512_fmadd_ps)(dots[0], powers, acc[t]);
  }
}

// sums[t] += the row's dot with x[t] over its 4-block groups, alternating
// between two accumulators as the Q15 products do; b: the first block left.
template <size_t NT, size_t Terms>
OSSRT_BF16_DOT_TARGET inline __attribute__((always_inline)) void groups(const uint8_t* blocks, const uint8_t* scales,
                                                                        size_t count, const bf16_t* const* x,
                                                                        Zint table, size_t& b, float* sums) {
  const size_t stride = count * kMxfp4BlockElements;
  OSSRT_X86(__m512) even[NT], odd[NT];
  for (size_t t = 0; t < NT; ++t) even[t] = odd[t] = OSSRT_X86(_mm512_setzero_ps)();
  size_t g = b;
  for (; g + 8 <= count; g += 8) {
    add_group<NT, Terms>(blocks, scales, g, x, stride, table, even);
    add_group<NT, Terms>(blocks, scales, g + 4, x, stride, table, odd);
  }
  if (g + 4 <= count) {
    add_group<NT, Terms>(blocks, scales, g, x, stride, table, even);
    g += 4;
  }
  b = g;
  for (size_t t = 0; t < NT; ++t) sums[t] += Simd::sum(OSSRT_X86(_mm512_add_ps)(even[t], odd[t]));
}

// sums[t] += the row's blocks [b, b + Blocks) times x[t], for the last pair
// (Blocks 2) or a single last block (Blocks 1), in 256-bit registers: block
// q in 128-bit lane q, a single block's upper lane zero (no weights, no
// inputs read).
template <size_t NT, size_t Terms, size_t Blocks>
OSSRT_BF16_DOT_TARGET inline __attribute__((always_inline)) void tail_blocks(const uint8_t* blocks,
                                                                             const uint8_t* scales, size_t count,
                                                                             const bf16_t* const* x, Zint table,
                                                                             size_t b, float* sums) {
  static_assert(Blocks == 1 || Blocks == 2);
  const size_t stride = count * kMxfp4BlockElements;
  const Yint table16 = OSSRT_X86(_mm512_castsi512_si256)(table);
  const uint8_t* codes = blocks + b * kMxfp4BlockBytes;
  const Yint raw = Blocks == 2 ? q15_detail::load_int(codes) : load_low(codes);
  Yint parts[4];
  for (int k = 0; k < 4; ++k) {
    parts[k] = OSSRT_X86(_mm256_permutexvar_epi16)(OSSRT_X86(_mm256_srli_epi16)(raw, 4 * k), table16);
  }
  const float first = q15_detail::scale_power(scales[b]);
  const float second = Blocks == 2 ? q15_detail::scale_power(scales[b + 1]) : 0.0f;
  const OSSRT_X86(__m256) powers =
      OSSRT_X86(_mm256_setr_m128)(OSSRT_X86(_mm_set1_ps)(first), OSSRT_X86(_mm_set1_ps)(second));
  constexpr size_t kPartWords = 8 * Blocks;
  for (size_t t = 0; t < NT; ++t) {
    const bf16_t* xt = x[t] + b * kMxfp4BlockElements;
    OSSRT_X86(__m256) dots[kChains<NT, Terms>];
    for (auto& dot : dots) dot = OSSRT_X86(_mm256_setzero_ps)();
    for (size_t p = 0; p < Terms; ++p) {
      for (size_t k = 0; k < 4; ++k) {
        const bf16_t* part = xt + p * stride + kPartWords * k;
        const Yint inputs = Blocks == 2 ? q15_detail::load_int(part) : load_low(part);
        auto& dot = dots[k % kChains<NT, Terms>];
        dot = OSSRT_X86(_mm256_dpbf16_ps)(dot, as<OSSRT_X86(__m256bh)>(parts[k]), as<OSSRT_X86(__m256bh)>(inputs));
      }
    }
    if constexpr (kChains<NT, Terms> == 2) dots[0] = OSSRT_X86(_mm256_add_ps)(dots[0], dots[1]);
    sums[t] += Simd::sum256(OSSRT_X86(_mm256_mul_ps)(dots[0], powers));
  }
}

// The row's blocks after its 4-block groups: a pair, then a single block.
template <size_t NT, size_t Terms>
OSSRT_BF16_DOT_TARGET inline __attribute__((always_inline)) void tail(const uint8_t* blocks, const uint8_t* scales,
                                                                      size_t count, const bf16_t* const* x, Zint table,
                                                                      size_t b, float* sums) {
  if (b + 2 <= count) {
    tail_blocks<NT, Terms, 2>(blocks, scales, count, x, table, b, sums);
    b += 2;
  }
  if (b < count) tail_blocks<NT, Terms, 1>(blocks, scales, count, x, table, b, sums);
}

template <size_t NT, size_t Terms, class Output>
OSSRT_BF16_DOT_TARGET void rows(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t first, size_t last,
                                const bf16_t* const* x, Output& output) {
  const Zint table = value_table();
  for (size_t r = first; r < last; ++r) {
    const uint8_t* row_blocks = blocks + r * count * kMxfp4BlockBytes;
    const uint8_t* row_scales = scales + r * count;
    float sums[NT] = {};
    size_t b = 0;
    groups<NT, Terms>(row_blocks, row_scales, count, x, table, b, sums);
    tail<NT, Terms>(row_blocks, row_scales, count, x, table, b, sums);
    output(r, static_cast<const float*>(sums));
  }
}

}  // namespace mxfp4_bf16_detail

#endif

// Whether this level multiplies MXFP4 rows by bf16 vectors on this CPU.
inline bool mxfp4_bf16_products() noexcept {
#if defined(OSSRT_CPU_Q15_ZMM)
  return bf16_dot();
#else
  return false;
#endif
}

#if defined(OSSRT_CPU_Q15_ZMM)
// output(r, sums) with sums[t] = the dot of row r (blocks + r * count * 16,
// scales + r * count) with packed vector x[t] of `terms` (1 or 3) bf16
// vectors (Mxfp4Bf16Vectors), for rows [first, last) and nt (1 to 4)
// vectors, where mxfp4_bf16_products().
template <class Output>
void mxfp4_bf16_rows(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t first, size_t last,
                     const bf16_t* const* x, size_t nt, size_t terms, Output output) {
  with_count<4>(nt, [&](auto vectors) {
    constexpr size_t NT = decltype(vectors)::value;
    if (terms == 3) return mxfp4_bf16_detail::rows<NT, 3>(blocks, scales, count, first, last, x, output);
    mxfp4_bf16_detail::rows<NT, 1>(blocks, scales, count, first, last, x, output);
  });
}
#endif

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
