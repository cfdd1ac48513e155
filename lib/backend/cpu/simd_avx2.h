// The AVX2 + FMA level: the vector operations the ISA-generic kernels
// (kernel_util.h, panel_gemm.h, matmul_kernel.h, moe_kernel.h) are written
// in, and the attention's helpers. Include only inside an AVX2
// target region (avx2_target_begin.h), after every shared header.
#pragma once

#ifndef OSSRT_AVX2_TARGET_REGION
#error "include backend/cpu/avx2_target_begin.h before this header"
#endif

#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backend/backend.h"

// The namespace the generic kernel headers put their code in: one per level,
// so no symbol compiled for one level is shared with another.
#define OSSRT_CPU_KERNEL_NAMESPACE cpu_avx2
// Intrinsic names as they are (the AVX-512 level maps them to SIMDe when emulated).
#define OSSRT_X86(name) name

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

struct Simd {
  using Vec = __m256;
  static constexpr size_t kLanes = 8;
  // Panel product (panel_gemm.h): a 6-row x 2-vector register tile (12
  // accumulators of the 16 registers), and a 256-deep strip block (16 KiB,
  // half the L1).
  static constexpr size_t kPanelRows = 6;
  static constexpr size_t kDepthBlock = 256;
  // Rows per Q8_0 decode GEMV step (q8_0_kernel.h): 4 rows side by side.
  static constexpr size_t kGemvRows = 4;
  // Rows of a few-token register tile (matmul_kernel.h's few_token_rows): 2 rows by 4 tokens of accumulators.
  static constexpr size_t kFewTokenRows = 2;
  // Q15 expert inputs (mxfp4_q15.h) in pairs of blocks: 256-bit products.
  static constexpr size_t kQ15GroupBlocks = 2;

  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set1(float v) { return _mm256_set1_ps(v); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  static Vec load_bf16(const bf16_t* p) { return load_bf16x8(p); }
  // Sixteen bf16 values widened to fp32 as two vectors, one operation each:
  // `low` holds elements 8q + j and `high` 8q + 4 + j of 128-bit lane q
  // (j < 4), the order of pair_source (matmul_kernel.h).
  static void load_bf16_pair(const bf16_t* p, Vec& low, Vec& high) {
    const __m256i raw = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), zero = _mm256_setzero_si256();
    low = _mm256_castsi256_ps(_mm256_unpacklo_epi16(zero, raw));
    high = _mm256_castsi256_ps(_mm256_unpackhi_epi16(zero, raw));
  }
  // Eight floats rounded to bf16, to nearest even (finite values; inf stays inf).
  static void store_bf16(bf16_t* p, Vec v) {
    const __m256i bits = _mm256_castps_si256(v);
    const __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    const __m256i words =
        _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff))), 16);
    const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(words), _mm256_extracti128_si256(words, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), packed);
  }
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static float sum(Vec v) { return horizontal_sum(v); }

  // Q8_0 blocks (q8_0_kernel.h): the fp16 scale at any alignment; the 32
  // int8 codes as kQ8Vectors vectors of floats (exact); the codes, and a
  // Q15 block's values, as 32 int16 words; and two such blocks' products,
  // lane l the sum of 4 of them (exact: within 4 * 128 * 16256, below 2^24
  // also as a float).
  static float load_f16(const uint8_t* p) {
    uint16_t bits;
    std::memcpy(&bits, p, sizeof bits);
    return _cvtsh_ss(bits);
  }
  static constexpr size_t kQ8Vectors = 4;
  static void load_q8(const uint8_t* codes, Vec out[kQ8Vectors]) {
    for (size_t q = 0; q < kQ8Vectors; ++q) {
      out[q] =
          _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + 8 * q))));
    }
  }
  struct Words {
    __m256i half[2];
  };
  static Words load_q8_words(const uint8_t* codes) {
    return {_mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes))),
            _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + 16)))};
  }
  static Words load_words(const int16_t* values) {
    return {_mm256_loadu_si256(reinterpret_cast<const __m256i*>(values)),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(values + 16))};
  }
  static Vec word_products(const Words& a, const Words& b) {
    return _mm256_cvtepi32_ps(
        _mm256_add_epi32(_mm256_madd_epi16(a.half[0], b.half[0]), _mm256_madd_epi16(a.half[1], b.half[1])));
  }
  static float sum256(Vec v) { return horizontal_sum(v); }  // as the AVX-512 level has it (mxfp4_q15.h)

  // A 32-element MXFP4 block's FP4 codes as 2x their E2M1 values, without
  // lane-crossing shuffles or int-to-float conversions: the 16 bytes in both
  // halves of a register, low nibbles kept in the low half and high nibbles
  // in the high half; two table lookups give the low and high bytes of the
  // bfloat16 of 2x each value (exact: 0, 1, 2, 3, 4, 6, 8, 12 need one
  // mantissa bit); interleaving them gives bfloat16 words, and a shift or a
  // mask turns each 32-bit lane's low or high word into a float. The elements
  // come out in decode_order: vector k, lane 4h + d holds element
  // 16 (k / 2) + 4d + 2 (k % 2) + h.
  static void decode_mxfp4(const uint8_t* block, Vec out[4]) {
    const __m256i low_bytes = _mm256_setr_epi8(0, -128, 0, 64, -128, -64, 0, 64, 0, -128, 0, 64, -128, -64, 0, 64, 0,
                                               -128, 0, 64, -128, -64, 0, 64, 0, -128, 0, 64, -128, -64, 0, 64);
    const __m256i high_bytes = _mm256_setr_epi8(0, 63, 64, 64, 64, 64, 65, 65, -128, -65, -64, -64, -64, -64, -63, -63,
                                                0, 63, 64, 64, 64, 64, 65, 65, -128, -65, -64, -64, -64, -64, -63, -63);
    const __m256i raw = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block)));
    const __m256i codes =
        _mm256_and_si256(_mm256_srlv_epi32(raw, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)), _mm256_set1_epi8(0x0f));
    const __m256i low = _mm256_shuffle_epi8(low_bytes, codes), high = _mm256_shuffle_epi8(high_bytes, codes);
    const __m256i words0 = _mm256_unpacklo_epi8(low, high), words1 = _mm256_unpackhi_epi8(low, high);
    const __m256i top_word = _mm256_set1_epi32(static_cast<int>(0xffff0000u));
    out[0] = _mm256_castsi256_ps(_mm256_slli_epi32(words0, 16));
    out[1] = _mm256_castsi256_ps(_mm256_and_si256(words0, top_word));
    out[2] = _mm256_castsi256_ps(_mm256_slli_epi32(words1, 16));
    out[3] = _mm256_castsi256_ps(_mm256_and_si256(words1, top_word));
  }
  // Where element j of a block lands in decode_mxfp4's output.
  static constexpr size_t decode_order(size_t j) {
    const size_t k = 2 * (j / 16) + j % 4 / 2, d = j % 16 / 4, h = j % 2;
    return 8 * k + 4 * h + d;
  }

  // Half of 2^(s - 127) for every scale byte: decode_mxfp4 gives 2x the values.
  struct Mxfp4Tables {
    float half_scale[256];
    Mxfp4Tables() {
      for (int s = 0; s < 256; ++s) half_scale[s] = std::ldexp(1.0f, s - 128);
    }
  };
  static const Mxfp4Tables& mxfp4_tables() {
    static const Mxfp4Tables tables;
    return tables;
  }

  // acc[j][0] += the block's products with x[j][i, i + 32), for NT tokens:
  // the four products of a token are summed first and scaled once (one
  // accumulator chain per token; the decode is the longer path here).
  static constexpr size_t kMxfp4Chains = 1;
  template <size_t NT>
  static void mxfp4_block_dot(const Mxfp4Tables& tables, const uint8_t* block, uint8_t scale, const float* const* x,
                              size_t i, Vec (&acc)[NT][kMxfp4Chains]) {
    Vec v[4];
    decode_mxfp4(block, v);
    const Vec s = set1(tables.half_scale[scale]);
    for (size_t j = 0; j < NT; ++j) {
      Vec part = mul(v[0], load(x[j] + i));
      part = fmadd(v[1], load(x[j] + i + 8), part);
      part = fmadd(v[2], load(x[j] + i + 16), part);
      part = fmadd(v[3], load(x[j] + i + 24), part);
      acc[j][0] = fmadd(part, s, acc[j][0]);
    }
  }
  // The block's 32 weights, scaled, to dst in decode_order.
  static void widen_mxfp4_block(const Mxfp4Tables& tables, const uint8_t* block, uint8_t scale, float* dst) {
    Vec v[4];
    decode_mxfp4(block, v);
    const Vec s = set1(tables.half_scale[scale]);
    for (size_t q = 0; q < 4; ++q) store(dst + 8 * q, mul(v[q], s));
  }

  // Attention (attention_kernel.h).
  static Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
  static Vec max(Vec a, Vec b) { return _mm256_max_ps(a, b); }
  static Vec min(Vec a, Vec b) { return _mm256_min_ps(a, b); }
  static Vec div(Vec a, Vec b) { return _mm256_div_ps(a, b); }
  static float max_lane(Vec v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
  }
  // p * 2^n for whole n in [-126, 127]: n added to the exponent.
  static Vec times_power_of_two(Vec p, Vec n) {
    const __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(exponent));
  }
  // v, with 0 in the lanes where x < limit.
  static Vec zero_below(Vec v, Vec x, float limit) {
    return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(limit), _CMP_LT_OQ), v);
  }
  // Weighted value rows in register tiles of 4 heads by 2 vectors (of the
  // tile shapes that fit the 16 registers the fastest, 5.3 FMAs/ns from L1 on
  // the EPYC VM against 3.4 for two heads by four vectors), then 2 by 4, then
  // a single head by 8.
  static constexpr size_t kValueTileHeads = 4, kValueTileAccumulators = 8;
};

}  // namespace ossrt::cpu_avx2

// The attention's scores of 8 query heads against 8 keys (attention_kernel.h's
// scores8x8), 8 lanes wide.
#include "backend/cpu/transpose8x8.h"

namespace ossrt::cpu_avx2 {

// A step takes key elements i and i + 1 (kScoreStep) against 16 query
// floats, the 8 heads' element i, then their element i + 1, into one
// accumulator per key (kScoreParts).
constexpr size_t kScoreStep = 2, kScoreParts = 1;
constexpr size_t query_step_lane(size_t head, size_t element) {
  return 8 * element + head;
}
// acc lane h += key[0] q[i][h] + key[1] q[i + 1][h].
inline void fmadd_key_step(const float* key, const float* queries, __m256 (&acc)[kScoreParts]) {
  acc[0] = _mm256_fmadd_ps(_mm256_broadcast_ss(key), _mm256_loadu_ps(queries), acc[0]);
  acc[0] = _mm256_fmadd_ps(_mm256_broadcast_ss(key + 1), _mm256_loadu_ps(queries + 8), acc[0]);
}
// A bf16 pair is one 32-bit broadcast (key[0] in the low half of each lane):
// a shift and a mask leave the two fp32 values, one load where fp32 takes two.
inline void fmadd_key_step(const bf16_t* key, const float* queries, __m256 (&acc)[kScoreParts]) {
  uint32_t both_bits;
  std::memcpy(&both_bits, key, sizeof both_bits);
  const __m256i both = _mm256_set1_epi32(static_cast<int>(both_bits));
  const __m256 first = _mm256_castsi256_ps(_mm256_slli_epi32(both, 16));
  const __m256 second = _mm256_castsi256_ps(_mm256_and_si256(both, _mm256_set1_epi32(static_cast<int>(0xffff0000u))));
  acc[0] = _mm256_fmadd_ps(first, _mm256_loadu_ps(queries), acc[0]);
  acc[0] = _mm256_fmadd_ps(second, _mm256_loadu_ps(queries + 8), acc[0]);
}
// acc[j][0] lane h is head h's score for key j: transposed, scaled, head h's
// scores of the 8 keys to out + h * stride.
inline void store_head_scores(__m256 (&acc)[8][kScoreParts], float scale, float* out, size_t stride) {
  __m256 rows[8];
  for (size_t j = 0; j < 8; ++j) rows[j] = acc[j][0];
  transpose8x8(rows);
  const __m256 scale8 = _mm256_set1_ps(scale);
  for (size_t h = 0; h < 8; ++h) _mm256_storeu_ps(out + h * stride, _mm256_mul_ps(rows[h], scale8));
}
// out[j] = scale * the sum of acc[j]'s lanes, j < 8: pairwise sums leave key
// j's total in lane j.
inline void store_key_sums(const __m256 (&acc)[8], float scale, float* out) {
  const __m256 s0123 = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
  const __m256 s4567 = _mm256_hadd_ps(_mm256_hadd_ps(acc[4], acc[5]), _mm256_hadd_ps(acc[6], acc[7]));
  const __m256 sums =
      _mm256_add_ps(_mm256_permute2f128_ps(s0123, s4567, 0x20), _mm256_permute2f128_ps(s0123, s4567, 0x31));
  _mm256_storeu_ps(out, _mm256_mul_ps(sums, _mm256_set1_ps(scale)));
}

}  // namespace ossrt::cpu_avx2
