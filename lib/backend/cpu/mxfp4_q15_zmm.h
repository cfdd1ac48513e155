// The AVX-512 level's Q15 products (mxfp4_q15.h includes this header where
// the level defines OSSRT_CPU_Q15_ZMM): blocks in groups of 4, one 512-bit
// register of FP4 codes each. Int32 lane l of a group sums the 8 products of
// elements 8 (l % 4) .. + 8 of block l / 4 (the even elements from the low
// nibbles, the odd ones from the high nibbles, each with both digits)
// exactly; the codes' offset of 12 comes off as the integer lane_bias, and a
// conversion and an FMA scale each lane by its block's scales. Per 32
// weights: about 6 operations with AVX512-VNNI's vpdpbusd (one per digit
// and nibble), 8 without it, against 9 for the 256-bit pairs.
#pragma once

#include <cstring>

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

// Whether the CPU has AVX512-VNNI (the level's kernel file answers; the
// tests' emulation takes either path).
bool q15_vnni() noexcept;

#if defined(OSSRT_CPU_EMULATE_AVX512)
#define OSSRT_Q15_VNNI_TARGET
#else
#define OSSRT_Q15_VNNI_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni"), flatten))
#endif

namespace q15_zmm_detail {

using Zint = OSSRT_X86(__m512i);
using Zfloat = OSSRT_X86(__m512);

inline Zint load(const void* p) {
  return OSSRT_X86(_mm512_loadu_si512)(p);
}

// A group's 64 code bytes as two 32-byte halves: gpt-oss rows are 1440
// bytes, so every other row's 64-byte loads would each straddle two cache
// lines (measured slower).
inline Zint load_group(const uint8_t* codes) {
  return OSSRT_X86(_mm512_inserti64x4)(OSSRT_X86(_mm512_castsi256_si512)(q15_detail::load_int(codes)),
                                       q15_detail::load_int(codes + 32), 1);
}

// 2^(s - 127) of the group's 4 scale bytes, block q's in 128-bit lane q (s = 0 gives 0).
inline Zfloat group_powers(const uint8_t* scales) {
  // Picks byte q of a dword of 4 scale bytes into each dword of 128-bit lane q.
  const Zint spread = OSSRT_X86(_mm512_set_epi32)(
      static_cast<int>(0x80808003u), static_cast<int>(0x80808003u), static_cast<int>(0x80808003u),
      static_cast<int>(0x80808003u), static_cast<int>(0x80808002u), static_cast<int>(0x80808002u),
      static_cast<int>(0x80808002u), static_cast<int>(0x80808002u), static_cast<int>(0x80808001u),
      static_cast<int>(0x80808001u), static_cast<int>(0x80808001u), static_cast<int>(0x80808001u),
      static_cast<int>(0x80808000u), static_cast<int>(0x80808000u), static_cast<int>(0x80808000u),
      static_cast<int>(0x80808000u));
  uint32_t four_scales;
  std::memcpy(&four_scales, scales, sizeof four_scales);
  return OSSRT_X86(_mm512_castsi512_ps)(OSSRT_X86(_mm512_slli_epi32)(
      OSSRT_X86(_mm512_shuffle_epi8)(OSSRT_X86(_mm512_set1_epi32)(static_cast<int>(four_scales)), spread), 23));
}

// The lanes' exact sums of 2 * FP4 value * Q15 value, from the group's codes
// (12 + twice the value, even and odd elements) and one vector's digits
// (high digits of the even elements, of the odd ones, then the low digits)
// and lane biases: AVX-512 BW's byte products summed in 16 bits first
// (within 4 * 24 * 127 = 12192), then weighted by 128 and 1.
struct Maddubs {
  static Zint lanes(Zint even, Zint odd, const int8_t* digits, const int32_t* bias) {
    const Zint high = OSSRT_X86(_mm512_add_epi16)(OSSRT_X86(_mm512_maddubs_epi16)(even, load(digits)),
                                                  OSSRT_X86(_mm512_maddubs_epi16)(odd, load(digits + 64)));
    const Zint low = OSSRT_X86(_mm512_add_epi16)(OSSRT_X86(_mm512_maddubs_epi16)(even, load(digits + 128)),
                                                 OSSRT_X86(_mm512_maddubs_epi16)(odd, load(digits + 192)));
    const Zint sums = OSSRT_X86(_mm512_add_epi32)(OSSRT_X86(_mm512_madd_epi16)(high, OSSRT_X86(_mm512_set1_epi16)(128)),
                                                  OSSRT_X86(_mm512_madd_epi16)(low, OSSRT_X86(_mm512_set1_epi16)(1)));
    return OSSRT_X86(_mm512_sub_epi32)(sums, load(bias));
  }
};

// The same through vpdpbusd, which sums 4 byte products into each lane.
struct Vnni {
  OSSRT_Q15_VNNI_TARGET static Zint lanes(Zint even, Zint odd, const int8_t* digits, const int32_t* bias) {
    const Zint zero = OSSRT_X86(_mm512_setzero_si512)();
    const Zint high = OSSRT_X86(_mm512_dpbusd_epi32)(OSSRT_X86(_mm512_dpbusd_epi32)(zero, even, load(digits)), odd,
                                                     load(digits + 64));
    const Zint low = OSSRT_X86(_mm512_dpbusd_epi32)(
        OSSRT_X86(_mm512_dpbusd_epi32)(OSSRT_X86(_mm512_sub_epi32)(zero, load(bias)), even, load(digits + 128)), odd,
        load(digits + 192));
    return OSSRT_X86(_mm512_add_epi32)(OSSRT_X86(_mm512_slli_epi32)(high, 7), low);
  }
};

// sums[t] += the row's dot with x[t] over its blocks [0, 4 * (count / 4)),
// 4 blocks at a time; b = the first block left. Groups alternate between two
// accumulators so consecutive groups' FMAs do not wait on each other (9 %
// faster on cached data, Zen 4).
// How far ahead of its group a row's stream asks for lines into L1: at a
// row in about 60 ns, kPrefetchBytes (1.4 rows) is under a DRAM miss; 6 KiB
// read 5-10 % faster (one expert group of 1-8 tokens, 1 and 2 threads).
constexpr size_t kGroupPrefetchBytes = 6144;
// And how far ahead into L2 as well. Without software prefetches a core
// read a decoded token's experts at 7.5 GB/s (the hardware prefetchers do
// little for these row streams), with the L1 ones alone at 20, with both at
// 25-26 (Q8 products, one thread; two: 30-32 -> 32-34 where a plain read
// took 33-35 GB/s). With the L1 ones 6 KiB ahead, 12, 16 and 24 KiB into L2
// were within 4 % of each other; with them 2-4 KiB ahead, all slower.
constexpr size_t kGroupL2PrefetchBytes = 16384;

// Asks for the lines a row's stream reads after the group at `group`.
inline void prefetch_past_group(const uint8_t* group) {
  prefetch_at(group + kGroupPrefetchBytes);
  prefetch_to_l2_at(group + kGroupL2PrefetchBytes);
}

template <size_t NT, class Products>
inline __attribute__((always_inline)) void groups(const uint8_t* blocks, const uint8_t* scales, size_t count,
                                                  const Q15Vector* x, size_t& b, float* sums) {
  const Zint table = OSSRT_X86(_mm512_broadcast_i32x4)(OSSRT_X86(_mm256_castsi256_si128)(q15_detail::code_table()));
  const Zint nibble = OSSRT_X86(_mm512_set1_epi8)(0x0f);
  Zfloat even[NT], odd[NT];
  for (size_t t = 0; t < NT; ++t) even[t] = odd[t] = OSSRT_X86(_mm512_setzero_ps)();
  const auto add_group = [&](size_t g, Zfloat(&acc)[NT]) {
    prefetch_past_group(blocks + g * kMxfp4BlockBytes);
    const Zint raw = load_group(blocks + g * kMxfp4BlockBytes);
    const Zint even_codes = OSSRT_X86(_mm512_shuffle_epi8)(table, OSSRT_X86(_mm512_and_si512)(raw, nibble));
    const Zint odd_codes = OSSRT_X86(_mm512_shuffle_epi8)(
        table, OSSRT_X86(_mm512_and_si512)(OSSRT_X86(_mm512_srli_epi16)(raw, 4), nibble));
    const Zfloat powers = group_powers(scales + g);
    for (size_t t = 0; t < NT; ++t) {
      const Zint lanes = Products::lanes(even_codes, odd_codes, x[t].digits + g * 64, x[t].lane_bias + g * 4);
      acc[t] = OSSRT_X86(_mm512_fmadd_ps)(
          Simd::int_to_float(lanes),
          OSSRT_X86(_mm512_mul_ps)(powers, OSSRT_X86(_mm512_loadu_ps)(x[t].lane_scale + g * 4)), acc[t]);
    }
  };
  // A local block index: with the caller's, GCC 12 stored it every group and
  // dropped the prefetch.
  size_t g = b;
  for (; g + 8 <= count; g += 8) {
    add_group(g, even);
    add_group(g + 4, odd);
  }
  if (g + 4 <= count) {
    add_group(g, even);
    g += 4;
  }
  b = g;
  for (size_t t = 0; t < NT; ++t) sums[t] += Simd::sum(OSSRT_X86(_mm512_add_ps)(even[t], odd[t]));
}

// mxfp4_q15_rows on this level: each row's 512-bit groups, then the rest of
// it in 256-bit registers (gpt-oss's 90-block rows: 22 groups and a pair).
template <size_t NT, class Products, class Output>
inline __attribute__((always_inline)) void rows(const uint8_t* blocks, const uint8_t* scales, size_t count,
                                                size_t first, size_t last, const Q15Vector* x, Output& output) {
  for (size_t r = first; r < last; ++r) {
    const uint8_t* row_blocks = blocks + r * count * kMxfp4BlockBytes;
    const uint8_t* row_scales = scales + r * count;
    float sums[NT] = {};
    size_t b = 0;
    groups<NT, Products>(row_blocks, row_scales, count, x, b, sums);
    q15_ymm_blocks<NT>(row_blocks, row_scales, count, x, b, sums);
    output(r, static_cast<const float*>(sums));
  }
}

template <size_t NT, class Output>
OSSRT_Q15_VNNI_TARGET void rows_vnni(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t first,
                                     size_t last, const Q15Vector* x, Output& output) {
  rows<NT, Vnni>(blocks, scales, count, first, last, x, output);
}

}  // namespace q15_zmm_detail

template <size_t NT, class Output>
void q15_zmm_rows(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t first, size_t last,
                  const Q15Vector* x, Output& output) {
  if (q15_vnni()) return q15_zmm_detail::rows_vnni<NT>(blocks, scales, count, first, last, x, output);
  q15_zmm_detail::rows<NT, q15_zmm_detail::Maddubs>(blocks, scales, count, first, last, x, output);
}

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
