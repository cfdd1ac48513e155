// The AVX-512 level (F, BW, VL): the vector operations the ISA-generic
// kernels are written in, 16 lanes wide. Include only inside an AVX-512
// target region (avx512_target_begin.h), after every shared header.
//
// With OSSRT_CPU_EMULATE_AVX512 defined the same code is compiled without the
// target region on top of SIMDe's portable implementation of the intrinsics,
// in its own namespace: the tests run it on CPUs without AVX-512, so the
// AVX-512 kernels' logic (element orders, tails, tiles) is checked on every
// machine and the native build only adds the instruction encoding.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backend/backend.h"

#if defined(OSSRT_CPU_EMULATE_AVX512)
#include <simde/x86/avx512.h>

#include "util/numeric.h"  // f16_to_f32 (no target region here: baseline code)
#define OSSRT_CPU_KERNEL_NAMESPACE cpu_avx512_emulated
#define OSSRT_X86(name) simde##name
#else
#ifndef OSSRT_AVX512_TARGET_REGION
#error "include backend/cpu/avx512_target_begin.h before this header"
#endif
#include <immintrin.h>
#define OSSRT_CPU_KERNEL_NAMESPACE cpu_avx512
#define OSSRT_X86(name) name
#endif

// mxfp4_q15.h multiplies Q15 inputs in 512-bit groups of blocks.
#define OSSRT_CPU_Q15_ZMM 1

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

// v, which the compiler must now hold in a register: a load it would fold
// into each of several instructions as their memory operand is done once.
template <class V>
inline V held_in_register(V v) {
#if !defined(OSSRT_CPU_EMULATE_AVX512)
  asm("" : "+v"(v));
#endif
  return v;
}

struct Simd {
  using Vec = OSSRT_X86(__m512);
  using Int = OSSRT_X86(__m512i);
  static constexpr size_t kLanes = 16;
  // Panel product (panel_gemm.h): a 12-row x 2-vector register tile (24
  // accumulators of the 32 registers), and a 128-deep strip block (16 KiB of
  // 32-token strips, a third to a half of the L1).
  static constexpr size_t kPanelRows = 12;
  static constexpr size_t kDepthBlock = 128;
  // Rows per Q8_0 decode GEMV step (q8_0_kernel.h): 8 rows side by side.
  static constexpr size_t kGemvRows = 8;
  // Rows of a few-token register tile (matmul_kernel.h's few_token_rows): 4 rows by 4 tokens of accumulators.
  static constexpr size_t kFewTokenRows = 4;
  // Q15 expert inputs (mxfp4_q15.h) in groups of 4 blocks: 512-bit products.
  static constexpr size_t kQ15GroupBlocks = 4;

  static Vec zero() { return OSSRT_X86(_mm512_setzero_ps)(); }
  static Vec set1(float v) { return OSSRT_X86(_mm512_set1_ps)(v); }
  static Vec load(const float* p) { return OSSRT_X86(_mm512_loadu_ps)(p); }
  static void store(float* p, Vec v) { OSSRT_X86(_mm512_storeu_ps)(p, v); }
  static Vec add(Vec a, Vec b) { return OSSRT_X86(_mm512_add_ps)(a, b); }
  static Vec mul(Vec a, Vec b) { return OSSRT_X86(_mm512_mul_ps)(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return OSSRT_X86(_mm512_fmadd_ps)(a, b, c); }

  static float sum(Vec v) {
    const auto high = OSSRT_X86(_mm256_castpd_ps)(OSSRT_X86(_mm512_extractf64x4_pd)(OSSRT_X86(_mm512_castps_pd)(v), 1));
    return sum256(OSSRT_X86(_mm256_add_ps)(OSSRT_X86(_mm512_castps512_ps256)(v), high));
  }
  // The sum of 8 lanes (the 256-bit kernels, mxfp4_q15.h).
  static float sum256(OSSRT_X86(__m256) v) {
    auto s = OSSRT_X86(_mm_add_ps)(OSSRT_X86(_mm256_castps256_ps128)(v), OSSRT_X86(_mm256_extractf128_ps)(v, 1));
    s = OSSRT_X86(_mm_add_ps)(s, OSSRT_X86(_mm_movehl_ps)(s, s));
    s = OSSRT_X86(_mm_add_ss)(s, OSSRT_X86(_mm_movehdup_ps)(s));
    return OSSRT_X86(_mm_cvtss_f32)(s);
  }

  // Sixteen bf16 values widened to fp32 (exact: bf16 is the top half of fp32).
  static Vec load_bf16(const bf16_t* p) {
    const auto raw = OSSRT_X86(_mm256_loadu_si256)(reinterpret_cast<const OSSRT_X86(__m256i)*>(p));
    return OSSRT_X86(_mm512_castsi512_ps)(OSSRT_X86(_mm512_slli_epi32)(widen_u16(raw), 16));
  }
  // Thirty-two bf16 values widened to fp32 as two vectors, one operation
  // each (the zero-extension and shift above take two): `low` holds elements
  // 8q + j and `high` 8q + 4 + j of 128-bit lane q (j < 4), the order of
  // pair_source (matmul_kernel.h).
  static void load_bf16_pair(const bf16_t* p, Vec& low, Vec& high) {
    // One load: folded into both unpacks, the line was read twice, and rows
    // off 64-byte boundaries (a safetensors file's tensors are 8-byte
    // aligned) split both loads over two lines (exact qkv, one thread, Zen 5
    // VM: 15.7 -> 20.7-21.4 GB/s; 21.6-24.3 aligned).
    const Int raw = held_in_register(OSSRT_X86(_mm512_loadu_si512)(p)), zero = OSSRT_X86(_mm512_setzero_si512)();
    low = OSSRT_X86(_mm512_castsi512_ps)(OSSRT_X86(_mm512_unpacklo_epi16)(zero, raw));
    high = OSSRT_X86(_mm512_castsi512_ps)(OSSRT_X86(_mm512_unpackhi_epi16)(zero, raw));
  }

  // Sixteen floats rounded to bf16, to nearest even (finite values; inf
  // stays inf): the rounded values' high words gathered into the low half.
  static void store_bf16(bf16_t* p, Vec v) {
    alignas(64) static constexpr uint16_t kHighWords[32] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31,
                                                            1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};
    const Int bits = OSSRT_X86(_mm512_castps_si512)(v);
    const Int odd =
        OSSRT_X86(_mm512_and_si512)(OSSRT_X86(_mm512_srli_epi32)(bits, 16), OSSRT_X86(_mm512_set1_epi32)(1));
    const Int rounded =
        OSSRT_X86(_mm512_add_epi32)(bits, OSSRT_X86(_mm512_add_epi32)(odd, OSSRT_X86(_mm512_set1_epi32)(0x7fff)));
    const Int words = OSSRT_X86(_mm512_permutexvar_epi16)(OSSRT_X86(_mm512_load_si512)(kHighWords), rounded);
    OSSRT_X86(_mm256_storeu_si256)(reinterpret_cast<OSSRT_X86(__m256i)*>(p), OSSRT_X86(_mm512_castsi512_si256)(words));
  }

  // Every MXFP4 value (E2M1 code x E8M0 scale) for every scale byte: row s
  // holds the 16 codes' values times 2^(s - 127), all exact in fp32 (the
  // largest scales overflow to inf, as the reference's product does). 16 KiB,
  // of which a model's few dozen scales touch a few cache lines.
  struct Mxfp4Tables {
    alignas(64) float value[256][16];
    Mxfp4Tables() {
      const float e2m1[16] = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                              -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
      for (int s = 0; s < 256; ++s) {
        for (int c = 0; c < 16; ++c) value[s][c] = e2m1[c] * std::ldexp(1.0f, s - 127);
      }
    }
  };
  static const Mxfp4Tables& mxfp4_tables() {
    static const Mxfp4Tables tables;
    return tables;
  }

  // A 32-element MXFP4 block as floats, scale applied: each byte
  // zero-extended to a 32-bit lane indexes the scale's row of the table
  // (vpermps reads only an index's low 4 bits, so the low nibble needs no
  // mask, and takes the row straight from memory): a zero-extend, a shift and
  // two permutes per 32 weights. Vector 0 holds the even elements, vector 1
  // the odd ones (decode_order).
  static void decode_mxfp4(const Mxfp4Tables& tables, const uint8_t* block, uint8_t scale, Vec out[2]) {
    const Vec row = load(tables.value[scale]);
    const Int codes = widen_u8(OSSRT_X86(_mm_loadu_si128)(reinterpret_cast<const OSSRT_X86(__m128i)*>(block)));
    out[0] = OSSRT_X86(_mm512_permutexvar_ps)(codes, row);
    out[1] = OSSRT_X86(_mm512_permutexvar_ps)(OSSRT_X86(_mm512_srli_epi32)(codes, 4), row);
  }
  static constexpr size_t decode_order(size_t j) { return j % 2 * 16 + j / 2; }

  // acc[j][q] += the block's products with x[j][i, i + 32), for NT tokens:
  // the weights come out scaled, so each product is one FMA, and the two
  // halves of the block sum into separate chains.
  static constexpr size_t kMxfp4Chains = 2;
  template <size_t NT>
  static void mxfp4_block_dot(const Mxfp4Tables& tables, const uint8_t* block, uint8_t scale, const float* const* x,
                              size_t i, Vec (&acc)[NT][kMxfp4Chains]) {
    Vec v[2];
    decode_mxfp4(tables, block, scale, v);
    for (size_t j = 0; j < NT; ++j) {
      acc[j][0] = fmadd(v[0], load(x[j] + i), acc[j][0]);
      acc[j][1] = fmadd(v[1], load(x[j] + i + 16), acc[j][1]);
    }
  }
  // The block's 32 weights, scaled, to dst in decode_order.
  static void widen_mxfp4_block(const Mxfp4Tables& tables, const uint8_t* block, uint8_t scale, float* dst) {
    Vec v[2];
    decode_mxfp4(tables, block, scale, v);
    store(dst, v[0]);
    store(dst + 16, v[1]);
  }

  // The FP4 values times 2^(s - 127) in bf16 for every scale byte s, as
  // store_bf16 rounds Mxfp4Tables' fp32 ones.
  struct Mxfp4Bf16Tables {
    alignas(64) bf16_t value[256][16];
    Mxfp4Bf16Tables() {
      const Mxfp4Tables& tables = mxfp4_tables();
      for (int s = 0; s < 256; ++s) {
        alignas(64) bf16_t words[32];
        store_bf16(words, load(tables.value[s]));
        std::memcpy(value[s], words, sizeof value[s]);
      }
    }
  };
  // The block's 32 weights, scaled, in bf16 to dst in decode_order: what
  // widen_mxfp4_block and store_bf16 give, in a 256-bit table lookup per 16
  // (each byte widened to a word, whose low 4 bits vpermw reads) where those
  // take 5 operations and a store to fp32 per 16, and a load and 5 more to
  // round them (prefill's expert tiles: see moe_kernel.h).
  static void widen_mxfp4_block_bf16(const uint8_t* block, uint8_t scale, bf16_t* dst) {
    static const Mxfp4Bf16Tables tables;
    const auto table = OSSRT_X86(_mm256_load_si256)(reinterpret_cast<const OSSRT_X86(__m256i)*>(tables.value[scale]));
    const auto codes =
        OSSRT_X86(_mm256_cvtepu8_epi16)(OSSRT_X86(_mm_loadu_si128)(reinterpret_cast<const OSSRT_X86(__m128i)*>(block)));
    OSSRT_X86(_mm256_storeu_si256)
    (reinterpret_cast<OSSRT_X86(__m256i)*>(dst), OSSRT_X86(_mm256_permutexvar_epi16)(codes, table));
    OSSRT_X86(_mm256_storeu_si256)
    (reinterpret_cast<OSSRT_X86(__m256i)*>(dst + 16),
     OSSRT_X86(_mm256_permutexvar_epi16)(OSSRT_X86(_mm256_srli_epi16)(codes, 4), table));
  }

  // Q8_0 blocks (q8_0_kernel.h): the fp16 scale at any alignment; the 32
  // int8 codes as kQ8Vectors vectors of floats (exact); the codes, and a
  // Q15 block's values, as 32 int16 words; and two such blocks' products,
  // lane l the sum of words 2l and 2l + 1's (exact: within 2 * 128 * 16256,
  // below 2^24 also as a float).
  static float load_f16(const uint8_t* p) {
    uint16_t bits;
    std::memcpy(&bits, p, sizeof bits);
#if defined(OSSRT_CPU_EMULATE_AVX512)
    return f16_to_f32(bits);
#else
    return _cvtsh_ss(bits);
#endif
  }
  static constexpr size_t kQ8Vectors = 2;
  static void load_q8(const uint8_t* codes, Vec out[kQ8Vectors]) {
    out[0] = int_to_float(widen_i8(OSSRT_X86(_mm_loadu_si128)(reinterpret_cast<const OSSRT_X86(__m128i)*>(codes))));
    out[1] =
        int_to_float(widen_i8(OSSRT_X86(_mm_loadu_si128)(reinterpret_cast<const OSSRT_X86(__m128i)*>(codes + 16))));
  }
  using Words = Int;
  static Words load_q8_words(const uint8_t* codes) {
    return OSSRT_X86(_mm512_cvtepi8_epi16)(
        OSSRT_X86(_mm256_loadu_si256)(reinterpret_cast<const OSSRT_X86(__m256i)*>(codes)));
  }
  static Words load_words(const int16_t* values) {
    return OSSRT_X86(_mm512_loadu_si512)(values);
  }
  static Vec word_products(Words a, Words b) {
    return int_to_float(OSSRT_X86(_mm512_madd_epi16)(a, b));
  }

  // int32 lanes to floats (SIMDe 0.7 has no 512-bit form: two 256-bit ones).
  static Vec int_to_float(Int v) {
#if defined(OSSRT_CPU_EMULATE_AVX512)
    const auto low = simde_mm256_cvtepi32_ps(simde_mm512_castsi512_si256(v));
    const auto high = simde_mm256_cvtepi32_ps(simde_mm512_extracti64x4_epi64(v, 1));
    return simde_mm512_insertf32x8(simde_mm512_castps256_ps512(low), high, 1);
#else
    return _mm512_cvtepi32_ps(v);
#endif
  }

 private:
  // Zero (sign) extension of 16 bytes / 16 words to 32-bit lanes. SIMDe 0.7 has
  // no 512-bit form, so the emulation joins two 256-bit ones.
  static Int widen_u8(OSSRT_X86(__m128i) bytes) {
#if defined(OSSRT_CPU_EMULATE_AVX512)
    const auto low = simde_mm256_cvtepu8_epi32(bytes), high = simde_mm256_cvtepu8_epi32(simde_mm_srli_si128(bytes, 8));
    return simde_mm512_inserti64x4(simde_mm512_castsi256_si512(low), high, 1);
#else
    return _mm512_cvtepu8_epi32(bytes);
#endif
  }
  static Int widen_i8(OSSRT_X86(__m128i) bytes) {
#if defined(OSSRT_CPU_EMULATE_AVX512)
    const auto low = simde_mm256_cvtepi8_epi32(bytes), high = simde_mm256_cvtepi8_epi32(simde_mm_srli_si128(bytes, 8));
    return simde_mm512_inserti64x4(simde_mm512_castsi256_si512(low), high, 1);
#else
    return _mm512_cvtepi8_epi32(bytes);
#endif
  }
  static Int widen_u16(OSSRT_X86(__m256i) words) {
#if defined(OSSRT_CPU_EMULATE_AVX512)
    const auto low = simde_mm256_cvtepu16_epi32(simde_mm256_castsi256_si128(words));
    const auto high = simde_mm256_cvtepu16_epi32(simde_mm256_extracti128_si256(words, 1));
    return simde_mm512_inserti64x4(simde_mm512_castsi256_si512(low), high, 1);
#else
    return _mm512_cvtepu16_epi32(words);
#endif
  }

 public:
  // Attention (attention_kernel.h).
  static Vec sub(Vec a, Vec b) {
    return OSSRT_X86(_mm512_sub_ps)(a, b);
  }
  static Vec max(Vec a, Vec b) {
    return OSSRT_X86(_mm512_max_ps)(a, b);
  }
  static Vec min(Vec a, Vec b) {
    return OSSRT_X86(_mm512_min_ps)(a, b);
  }
  static Vec div(Vec a, Vec b) {
    return OSSRT_X86(_mm512_div_ps)(a, b);
  }
  // The largest lane: halves, then quarters, then within 128-bit blocks.
  static float max_lane(Vec v) {
    v = max(v, OSSRT_X86(_mm512_shuffle_f32x4)(v, v, 0x4e));
    v = max(v, OSSRT_X86(_mm512_shuffle_f32x4)(v, v, 0xb1));
    v = max(v, OSSRT_X86(_mm512_shuffle_ps)(v, v, 0x4e));
    v = max(v, OSSRT_X86(_mm512_shuffle_ps)(v, v, 0xb1));
    return OSSRT_X86(_mm_cvtss_f32)(OSSRT_X86(_mm512_castps512_ps128)(v));
  }
  // p * 2^n for whole n (vscalefps: exact, to 0 through the denormals).
  static Vec times_power_of_two(Vec p, Vec n) {
    return OSSRT_X86(_mm512_scalef_ps)(p, n);
  }
  // v, with 0 in the lanes where x < limit.
  static Vec zero_below(Vec v, Vec x, float limit) {
    const auto below = OSSRT_X86(_mm512_cmplt_ps_mask)(x, set1(limit));
    return OSSRT_X86(_mm512_maskz_mov_ps)(static_cast<OSSRT_X86(__mmask16)>(~below), v);
  }
  // Weighted value rows in register tiles of 4 heads by 4 vectors (16 of the
  // 32 registers accumulate), then 2 by 8, then a single head by 16.
  static constexpr size_t kValueTileHeads = 4, kValueTileAccumulators = 16;
};

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

// The attention's scores of 8 query heads against 8 keys (attention_kernel.h's
// scores8x8), 16 lanes wide: a step takes key elements i to i + 3
// (kScoreStep) against 32 query floats, lane 4 l + e of part p holding head
// 4 p + l's element i + e; one 128-bit broadcast of the key's 4 elements
// feeds both parts' FMAs (a broadcast per FMA left the broadcasts, not the
// FMAs, the limit), and each 4 lanes are summed at the end.
constexpr size_t kScoreStep = 4, kScoreParts = 2;
constexpr size_t query_step_lane(size_t head, size_t element) {
  return 16 * (head / 4) + 4 * (head % 4) + element;
}
inline void fmadd_key_step(Simd::Vec keys, const float* queries, Simd::Vec (&acc)[kScoreParts]) {
  acc[0] = Simd::fmadd(keys, Simd::load(queries), acc[0]);
  acc[1] = Simd::fmadd(keys, Simd::load(queries + 16), acc[1]);
}
inline void fmadd_key_step(const float* key, const float* queries, Simd::Vec (&acc)[kScoreParts]) {
  fmadd_key_step(OSSRT_X86(_mm512_broadcast_f32x4)(OSSRT_X86(_mm_loadu_ps)(key)), queries, acc);
}
// 4 bf16 are one 64-bit broadcast; interleaving zero words below them makes
// them floats.
inline void fmadd_key_step(const bf16_t* key, const float* queries, Simd::Vec (&acc)[kScoreParts]) {
  long long bits;
  std::memcpy(&bits, key, sizeof bits);
  const Simd::Int words = OSSRT_X86(_mm512_set1_epi64)(bits);
  const Simd::Int widened = OSSRT_X86(_mm512_unpacklo_epi16)(OSSRT_X86(_mm512_setzero_si512)(), words);
  fmadd_key_step(OSSRT_X86(_mm512_castsi512_ps)(widened), queries, acc);
}

namespace attention_lanes {

// Per 128-bit block: a's lanes 0 + 1 and 2 + 3, then b's.
inline Simd::Vec pair_sums(Simd::Vec a, Simd::Vec b) {
  return Simd::add(OSSRT_X86(_mm512_shuffle_ps)(a, b, 0x88), OSSRT_X86(_mm512_shuffle_ps)(a, b, 0xdd));
}

// Block k: the sums of block k of a, b, c and d.
inline Simd::Vec block_sums(Simd::Vec a, Simd::Vec b, Simd::Vec c, Simd::Vec d) {
  return pair_sums(pair_sums(a, b), pair_sums(c, d));
}

// v's low 8 lanes to `low`, its high 8 to `high`.
inline void store_halves(float* low, float* high, Simd::Vec v) {
  OSSRT_X86(_mm256_storeu_ps)(low, OSSRT_X86(_mm512_castps512_ps256)(v));
  OSSRT_X86(_mm256_storeu_ps)
  (high, OSSRT_X86(_mm256_castpd_ps)(OSSRT_X86(_mm512_extractf64x4_pd)(OSSRT_X86(_mm512_castps_pd)(v), 1)));
}

}  // namespace attention_lanes

// Block l of acc[j][p] sums to head 4 p + l's score for key j: summed,
// scaled, head h's scores of the 8 keys to out + h * stride.
inline void store_head_scores(Simd::Vec (&acc)[8][kScoreParts], float scale, float* out, size_t stride) {
  using attention_lanes::block_sums;
  using attention_lanes::store_halves;
  // Blocks k and k + 1 of keys 0-3 each followed by the same block of keys 4-7.
  const Simd::Int blocks01 = OSSRT_X86(_mm512_setr_epi32)(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const Simd::Int blocks23 = OSSRT_X86(_mm512_setr_epi32)(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  const Simd::Vec s = Simd::set1(scale);
  for (size_t p = 0; p < kScoreParts; ++p) {
    // Block l: head 4 p + l's scores of keys 0-3 (4-7).
    const Simd::Vec keys0123 = Simd::mul(block_sums(acc[0][p], acc[1][p], acc[2][p], acc[3][p]), s);
    const Simd::Vec keys4567 = Simd::mul(block_sums(acc[4][p], acc[5][p], acc[6][p], acc[7][p]), s);
    float* heads = out + 4 * p * stride;
    store_halves(heads, heads + stride, OSSRT_X86(_mm512_permutex2var_ps)(keys0123, blocks01, keys4567));
    store_halves(heads + 2 * stride, heads + 3 * stride,
                 OSSRT_X86(_mm512_permutex2var_ps)(keys0123, blocks23, keys4567));
  }
}

// out[j] = scale * the sum of acc[j]'s lanes, j < 8.
inline void store_key_sums(const Simd::Vec (&acc)[8], float scale, float* out) {
  using attention_lanes::block_sums;
  // Block k: the sums of block k of keys 0, 1, 2, 3 (and of 4-7).
  const Simd::Vec keys0123 = block_sums(acc[0], acc[1], acc[2], acc[3]);
  const Simd::Vec keys4567 = block_sums(acc[4], acc[5], acc[6], acc[7]);
  // Blocks 0 + 2 and 1 + 3 of each, then all four.
  const Simd::Vec halves = Simd::add(OSSRT_X86(_mm512_shuffle_f32x4)(keys0123, keys4567, 0x44),
                                     OSSRT_X86(_mm512_shuffle_f32x4)(keys0123, keys4567, 0xee));
  const Simd::Vec totals = Simd::add(halves, OSSRT_X86(_mm512_shuffle_f32x4)(halves, halves, 0xb1));
  // Blocks 0 (keys 0-3) and 2 (keys 4-7) side by side.
  const Simd::Vec sums = Simd::mul(OSSRT_X86(_mm512_shuffle_f32x4)(totals, totals, 0x08), Simd::set1(scale));
  OSSRT_X86(_mm256_storeu_ps)(out, OSSRT_X86(_mm512_castps512_ps256)(sums));
}

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
