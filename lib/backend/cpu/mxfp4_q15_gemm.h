// MXFP4 rows times many Q15 vectors on integer units: Numerics::fast's
// prefill expert groups where the CPU has no native bf16 product. A tile of
// 16 rows is decoded once into int16 twice-values (2v, -12..12) and then
// multiplied with 4 vectors at a time by vpmaddwd (16-bit pairs into 32-bit
// sums), each block's sum exact as an integer, as in mxfp4_q15_rows, and one
// conversion and FMA per block apply the scales. 22 multiply-adds per cycle
// in a single-thread prototype against the fp32 FMA's peak of 16 (EPYC,
// AVX2); the MoE prefill of 512 tokens at gpt-oss-20b shapes runs at 194
// GFLOP/s-equivalent against 139 in fp32. The tiles take any rows that
// decode to int16 pairs (q15_tiles_times_vectors): Q8_0's prefill under
// Numerics::fast too (q8_0_kernel.h).
// The code is the same on both levels (256-bit, like mxfp4_q15.h), but for
// the AVX-512 level's products through AVX512-VNNI (q15_tile_product_vnni):
// include it inside the level's target region, after its simd header and
// mxfp4_q15.h; it lands in the level's namespace.
#pragma once

#ifndef OSSRT_CPU_KERNEL_NAMESPACE
#error "include a backend/cpu/simd_<level>.h header before this one"
#endif

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "backend/cpu/kernel_util.h"
#include "backend/cpu/mxfp4_q15.h"
#include "backend/cpu/transpose8x8.h"
#include "util/numeric.h"

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

constexpr size_t kQ15TileRows = 16;                      // two vectors of 8 rows' 32-bit pair sums
constexpr size_t kQ15TileVectors = 4;                    // Q15 vectors per product (8 of the 16 registers accumulate)
constexpr size_t kBlockPairs = kMxfp4BlockElements / 2;  // element pairs per block, one vpmaddwd lane each

// Storage of a packed tile for rows `in` wide: weights as int32 (a pair of
// int16), and the rows' block scales.
inline size_t q15_tile_pairs(size_t in) {
  return in / kMxfp4BlockElements * kBlockPairs * kQ15TileRows;
}
inline size_t q15_tile_powers(size_t in) {
  return in / kMxfp4BlockElements * kQ15TileRows;
}

namespace q15_gemm_detail {

using Int = OSSRT_X86(__m256i);
using Float = OSSRT_X86(__m256);

// FP4 code -> twice its value, signed.
inline OSSRT_X86(__m128i) twice_value_table() {
  return OSSRT_X86(_mm_setr_epi8)(0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
}

// One block of a row as its 16 element pairs, int16 2v each: pairs 0-7 in
// pairs[0], 8-15 in pairs[1] (an int32 lane per pair, the even element low).
inline void decode_pairs(const uint8_t* block, Int (&pairs)[2]) {
  const auto raw = OSSRT_X86(_mm_loadu_si128)(reinterpret_cast<const OSSRT_X86(__m128i)*>(block));
  const auto nibble = OSSRT_X86(_mm_set1_epi8)(0x0f);
  const auto even = OSSRT_X86(_mm_shuffle_epi8)(twice_value_table(), OSSRT_X86(_mm_and_si128)(raw, nibble));
  const auto odd = OSSRT_X86(_mm_shuffle_epi8)(twice_value_table(),
                                               OSSRT_X86(_mm_and_si128)(OSSRT_X86(_mm_srli_epi16)(raw, 4), nibble));
  pairs[0] = OSSRT_X86(_mm256_cvtepi8_epi16)(OSSRT_X86(_mm_unpacklo_epi8)(even, odd));
  pairs[1] = OSSRT_X86(_mm256_cvtepi8_epi16)(OSSRT_X86(_mm_unpackhi_epi8)(even, odd));
}

// Eight int32 sums as a GCC vector: summed with +=, the accumulators stay in
// their registers; summed with the add intrinsic, GCC 12 put each sum in a
// fresh register and copied it back, 8 moves per 8 multiplies, which cost a
// tenth of the loop's time (a single-thread prototype: 20.5 -> 22.3
// multiply-adds per cycle).
typedef int32_t Lanes __attribute__((vector_size(32)));
inline Lanes as_lanes(Int v) {
  Lanes lanes;
  std::memcpy(&lanes, &v, sizeof lanes);
  return lanes;
}
inline Int as_int(Lanes lanes) {
  Int v;
  std::memcpy(&v, &lanes, sizeof v);
  return v;
}

}  // namespace q15_gemm_detail

// Packs `count` (<= 16) rows of `in` elements into a tile: block b's pair p
// of row r at pairs[(kBlockPairs b + p) * kQ15TileRows + r], its scale at
// powers[kQ15TileRows b + r]; rows past count are zero. The rows come from
// decode(r, b, Int (&pairs)[2]), block b of row r as 16 int16 pairs (pairs
// 0-7, then 8-15, the even element low), and scale(r, b), its block's scale.
template <class Decode, class Scale>
void pack_q15_tile_with(size_t count, size_t in, Decode decode, Scale scale, int32_t* pairs, float* powers) {
  using namespace q15_gemm_detail;
  const size_t block_count = in / kMxfp4BlockElements;
  for (size_t b = 0; b < block_count; ++b) {
    for (size_t r = 0; r < kQ15TileRows; ++r) powers[b * kQ15TileRows + r] = r < count ? scale(r, b) : 0.0f;
    for (size_t half = 0; half < kQ15TileRows; half += 8) {
      Float low[8], high[8];  // pairs 0-7 and 8-15 of 8 rows, transposed to 8 rows per pair
      for (size_t r = 0; r < 8; ++r) {
        Int decoded[2] = {OSSRT_X86(_mm256_setzero_si256)(), OSSRT_X86(_mm256_setzero_si256)()};
        if (half + r < count) decode(half + r, b, decoded);
        low[r] = OSSRT_X86(_mm256_castsi256_ps)(decoded[0]);
        high[r] = OSSRT_X86(_mm256_castsi256_ps)(decoded[1]);
      }
      transpose8x8(low);
      transpose8x8(high);
      float* tile = reinterpret_cast<float*>(pairs + b * kBlockPairs * kQ15TileRows + half);
      for (size_t p = 0; p < 8; ++p) {
        OSSRT_X86(_mm256_storeu_ps)(tile + p * kQ15TileRows, low[p]);
        OSSRT_X86(_mm256_storeu_ps)(tile + (p + 8) * kQ15TileRows, high[p]);
      }
    }
  }
}

// An MXFP4 tile: rows row_bytes / row_scales apart, twice the FP4 values
// (decode_pairs) and the scale bytes' powers.
inline void pack_q15_tile(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t in, int32_t* pairs,
                          float* powers) {
  const size_t block_count = in / kMxfp4BlockElements, row_bytes = block_count * kMxfp4BlockBytes;
  pack_q15_tile_with(
      count, in,
      [&](size_t r, size_t b, q15_gemm_detail::Int(&decoded)[2]) {
        q15_gemm_detail::decode_pairs(blocks + r * row_bytes + b * kMxfp4BlockBytes, decoded);
      },
      [&](size_t r, size_t b) { return q15_detail::scale_power(scales[r * block_count + b]); }, pairs, powers);
}

// A Q15 vector as the tiles multiply it: its values in element order and the
// scale each block's integer sums are multiplied with (besides the row's).
struct Q15Values {
  const int16_t* values;
  const float* scales;
};

// A Q15Vector's values and half scales (the tiles hold twice the FP4 values).
inline Q15Values q15_values(const Q15Vector& v) {
  return Q15Values{v.values, v.half_scale};
}

// sums[t][r] = row r of the packed tile times Q15 vector x[t], for NT vectors.
template <size_t NT>
void q15_tile_product(const int32_t* pairs, const float* powers, size_t in, const Q15Values* x,
                      float (&sums)[kQ15TileVectors][kQ15TileRows]) {
  using namespace q15_gemm_detail;
  Float total[NT][2];
  for (size_t t = 0; t < NT; ++t) total[t][0] = total[t][1] = OSSRT_X86(_mm256_setzero_ps)();
  for (size_t b = 0; b < in / kMxfp4BlockElements; ++b) {
    Lanes block_sums[NT][2] = {};
    const int32_t* tile = pairs + b * kBlockPairs * kQ15TileRows;
    for (size_t p = 0; p < kBlockPairs; ++p) {
      const Int w0 = OSSRT_X86(_mm256_loadu_si256)(reinterpret_cast<const Int*>(tile + p * kQ15TileRows));
      const Int w1 = OSSRT_X86(_mm256_loadu_si256)(reinterpret_cast<const Int*>(tile + p * kQ15TileRows + 8));
      for (size_t t = 0; t < NT; ++t) {
        int32_t pair;
        std::memcpy(&pair, x[t].values + b * kMxfp4BlockElements + 2 * p, sizeof pair);
        const Int both = OSSRT_X86(_mm256_set1_epi32)(pair);
        block_sums[t][0] += as_lanes(OSSRT_X86(_mm256_madd_epi16)(w0, both));
        block_sums[t][1] += as_lanes(OSSRT_X86(_mm256_madd_epi16)(w1, both));
      }
    }
    // Each block's whole integer sum converts once, as the reference's does
    // (MXFP4: exact, 32 products of at most 12 * 16256 stay below 2^24).
    const Float power0 = OSSRT_X86(_mm256_loadu_ps)(powers + b * kQ15TileRows);
    const Float power1 = OSSRT_X86(_mm256_loadu_ps)(powers + b * kQ15TileRows + 8);
    for (size_t t = 0; t < NT; ++t) {
      const Float scale = OSSRT_X86(_mm256_set1_ps)(x[t].scales[b]);
      total[t][0] = OSSRT_X86(_mm256_fmadd_ps)(OSSRT_X86(_mm256_cvtepi32_ps)(as_int(block_sums[t][0])),
                                               OSSRT_X86(_mm256_mul_ps)(power0, scale), total[t][0]);
      total[t][1] = OSSRT_X86(_mm256_fmadd_ps)(OSSRT_X86(_mm256_cvtepi32_ps)(as_int(block_sums[t][1])),
                                               OSSRT_X86(_mm256_mul_ps)(power1, scale), total[t][1]);
    }
  }
  for (size_t t = 0; t < NT; ++t) {
    OSSRT_X86(_mm256_storeu_ps)(sums[t], total[t][0]);
    OSSRT_X86(_mm256_storeu_ps)(sums[t] + 8, total[t][1]);
  }
}

#if defined(OSSRT_CPU_Q15_ZMM)
// q15_tile_product through AVX512-VNNI: a pair's 16 rows are one 512-bit
// load and vpdpwssd multiplies and adds them into the rows' lanes in one
// operation, where the 256-bit product takes two vpmaddwd and two vpaddd.
// The same integer block sums and the same float operations in each lane:
// the same results bit for bit. An Intel core issues two vpdpwssd a cycle
// (Emerald Rapids VM: 64 int16 products against 32 fp32 FMA lanes).
template <size_t NT>
OSSRT_Q15_VNNI_TARGET void q15_tile_product_vnni(const int32_t* pairs, const float* powers, size_t in,
                                                 const Q15Values* x, float (&sums)[kQ15TileVectors][kQ15TileRows]) {
  using Zint = OSSRT_X86(__m512i);
  using Zfloat = OSSRT_X86(__m512);
  // A vpdpwssd's result is ready 5 cycles on and two issue a cycle: one
  // chain a vector (4 in flight) ran at 0.8 a cycle; 4 chains a vector (16
  // registers) lifted a 512-token layer's experts from 272 to 305 GFLOP/s
  // (2 chains: 299; 8 vectors of 2 chains: 289-303; Emerald Rapids VM, 2
  // threads).
  constexpr size_t kChains = 4;
  Zfloat total[NT];
  for (size_t t = 0; t < NT; ++t) total[t] = OSSRT_X86(_mm512_setzero_ps)();
  for (size_t b = 0; b < in / kMxfp4BlockElements; ++b) {
    // A vector's block sum in kChains partial sums (pairs p, p + kChains, ...), added at the end.
    Zint block_sums[NT][kChains];
    for (size_t t = 0; t < NT; ++t) {
      for (size_t c = 0; c < kChains; ++c) block_sums[t][c] = OSSRT_X86(_mm512_setzero_si512)();
    }
    const int32_t* tile = pairs + b * kBlockPairs * kQ15TileRows;
    for (size_t p0 = 0; p0 < kBlockPairs; p0 += kChains) {
      for (size_t c = 0; c < kChains; ++c) {
        const Zint w = OSSRT_X86(_mm512_loadu_si512)(tile + (p0 + c) * kQ15TileRows);
        for (size_t t = 0; t < NT; ++t) {
          int32_t pair;
          std::memcpy(&pair, x[t].values + b * kMxfp4BlockElements + 2 * (p0 + c), sizeof pair);
          block_sums[t][c] = OSSRT_X86(_mm512_dpwssd_epi32)(block_sums[t][c], w, OSSRT_X86(_mm512_set1_epi32)(pair));
        }
      }
    }
    const Zfloat power = OSSRT_X86(_mm512_loadu_ps)(powers + b * kQ15TileRows);
    for (size_t t = 0; t < NT; ++t) {
      Zint block_sum = block_sums[t][0];
      for (size_t c = 1; c < kChains; ++c) block_sum = OSSRT_X86(_mm512_add_epi32)(block_sum, block_sums[t][c]);
      const Zfloat scale = OSSRT_X86(_mm512_set1_ps)(x[t].scales[b]);
      total[t] =
          OSSRT_X86(_mm512_fmadd_ps)(Simd::int_to_float(block_sum), OSSRT_X86(_mm512_mul_ps)(power, scale), total[t]);
    }
  }
  for (size_t t = 0; t < NT; ++t) OSSRT_X86(_mm512_storeu_ps)(sums[t], total[t]);
}
#endif

// output(t, r, dot(row r, vector(t))) for rows [first, last) and vectors
// [0, n) (vector(t) -> Q15Values): tiles of 16 rows packed once by
// pack(r0, count, pairs, powers) into `pairs` / `powers` (q15_tile_pairs,
// q15_tile_powers), then multiplied with the vectors 4 at a time. While a
// tile's products run, ask_next(r0, part, parts) asks for share `part` of
// `parts` of the next tile's rows (from row r0) after each 4 vectors: their
// first read is the pack's, and a tile's rows come from memory once per
// call. Without, the pack waited on the experts' rows for half of its
// time, 11 % of a 512-token layer's experts; with, 8 % (Emerald Rapids VM).
template <class Pack, class AskNext, class Vector, class Output>
void q15_tiles_times_vectors(size_t first, size_t last, size_t in, size_t n, Pack pack, AskNext ask_next, Vector vector,
                             int32_t* pairs, float* powers, Output output) {
#if defined(OSSRT_CPU_Q15_ZMM)
  const bool vnni = q15_vnni();
#endif
  const size_t parts = (n + kQ15TileVectors - 1) / kQ15TileVectors;
  for (size_t r0 = first; r0 < last; r0 += kQ15TileRows) {
    const size_t count = std::min(kQ15TileRows, last - r0);
    pack(r0, count, pairs, powers);
    for (size_t t0 = 0; t0 < n; t0 += kQ15TileVectors) {
      const size_t nt = std::min(kQ15TileVectors, n - t0);
      Q15Values x[kQ15TileVectors];
      for (size_t t = 0; t < nt; ++t) x[t] = vector(t0 + t);
      float sums[kQ15TileVectors][kQ15TileRows];
      with_count<kQ15TileVectors>(nt, [&](auto vectors) {
#if defined(OSSRT_CPU_Q15_ZMM)
        if (vnni) return q15_tile_product_vnni<vectors>(pairs, powers, in, x, sums);
#endif
        q15_tile_product<vectors>(pairs, powers, in, x, sums);
      });
      if (r0 + kQ15TileRows < last) ask_next(r0 + kQ15TileRows, t0 / kQ15TileVectors, parts);
      for (size_t t = 0; t < nt; ++t) {
        for (size_t r = 0; r < count; ++r) output(t0 + t, r0 + r, sums[t][r]);
      }
    }
  }
}

// ask_next for rows `row_bytes` apart and their scales `row_scales` apart
// (MXFP4, plain or in mxfp4_tiles.h's tiles: either way a tile's 16 rows
// are one run of bytes).
inline auto ask_next_mxfp4_rows(const uint8_t* blocks, const uint8_t* scales, size_t row_bytes, size_t row_scales) {
  return [=](size_t r0, size_t part, size_t parts) {
    prefetch_share_to_l2(blocks + r0 * row_bytes, kQ15TileRows * row_bytes, part, parts);
    prefetch_share_to_l2(scales + r0 * row_scales, kQ15TileRows * row_scales, part, parts);
  };
}

// The MXFP4 rows of one expert (`blocks` / `scales`) times its Q15 vectors
// (vector(t) -> Q15Vector, which carries its int16 values and half scales:
// the tiles hold twice the FP4 values).
template <class Vector, class Output>
void mxfp4_q15_rows_times_vectors(const uint8_t* blocks, const uint8_t* scales, size_t first, size_t last, size_t in,
                                  size_t n, Vector vector, int32_t* pairs, float* powers, Output output) {
  const size_t row_scales = in / kMxfp4BlockElements, row_bytes = row_scales * kMxfp4BlockBytes;
  q15_tiles_times_vectors(
      first, last, in, n,
      [&](size_t r0, size_t count, int32_t* tile_pairs, float* tile_powers) {
        pack_q15_tile(blocks + r0 * row_bytes, scales + r0 * row_scales, count, in, tile_pairs, tile_powers);
      },
      ask_next_mxfp4_rows(blocks, scales, row_bytes, row_scales), [&](size_t t) { return q15_values(vector(t)); },
      pairs, powers, output);
}

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
