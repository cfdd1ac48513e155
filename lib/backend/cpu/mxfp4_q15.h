// MXFP4 rows times Q15 vectors (util/q15.h), Numerics::fast's expert
// products, on 256-bit integer units. A Q15 value v is held as two int8
// digits, v = 128 * high + low (high within +-127, low within -64..63); the
// FP4 codes of two blocks become int8 through one in-register table
// (vpshufb), vpmaddubsw multiplies them with each digit, and horizontal adds,
// one float conversion and one FMA per 8 blocks apply the scales: about 9
// vector operations per 32 weights against the fp32 kernels' 16 (AVX2),
// 22 against 15 GB/s for a token's experts with 2 threads on the EPYC VM
// (ossrt-bench-kernels). One int8 digit would be about 6.5 operations and 29
// GB/s in a prototype of the loop, but too coarse: see q15.h.
// The AVX-512 level multiplies groups of 4 blocks in 512-bit registers
// instead (mxfp4_q15_zmm.h), and this code takes the rest of a row. Include it inside the level's target region, after
// its simd header: it lands in the level's namespace.
#pragma once

#ifndef OSSRT_CPU_KERNEL_NAMESPACE
#error "include a backend/cpu/simd_<level>.h header before this one"
#endif

#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/cpu/kernel_util.h"
#include "util/aligned_vector.h"
#include "util/numeric.h"
#include "util/q15.h"

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

static_assert(kQ15BlockElements == kMxfp4BlockElements, "a Q15 block pairs with an MXFP4 block");

// One Q15 vector in the dot's layout. Digits: blocks in groups of g (the
// level's Simd::kQ15GroupBlocks, then pairs, then a single last block), a
// group from byte 64 * (its first block) holding 64g bytes: the high digits
// of each block's even elements (16 each, block by block), those of their
// odd elements, then the low digits the same way: the order in which the
// low and high nibbles of the group's 16g code bytes come out.
struct Q15Vector {
  const int8_t* digits;
  const float* half_scale;  // per block: scale / 2 (the codes decode to twice their values)
  const float* offset;      // per block: half_scale * 12 * (sum of the block's values), see q15_ymm_blocks
  const int16_t* values;    // the values in element order, for mxfp4_q15_gemm.h (null unless asked for)
  // 512-bit groups only (null elsewhere), per block 4 lanes of 8 elements:
  const int32_t* lane_bias;  // 12 * the sum of the lane's values (the codes' offset, see code_table)
  const float* lane_scale;   // the block's half_scale, spread so a group loads it instead of permuting
};

// The group of blocks that block b of a `count`-block row belongs to: its
// first block and its size (group_blocks, 2 or 1).
struct Q15Group {
  size_t first, size;
};
inline Q15Group q15_group(size_t b, size_t count, size_t group_blocks) {
  const size_t full = count - count % group_blocks;
  if (b < full) return {b - b % group_blocks, group_blocks};
  const size_t paired_end = full + (count - full) / 2 * 2;
  if (b < paired_end) return {b - (b - full) % 2, 2};
  return {b, 1};
}

// Vectors of `width` elements (a multiple of 32) quantized for mxfp4_q15_rows,
// and with_values, also as plain int16 for mxfp4_q15_gemm.h.
class Q15Vectors {
 public:
  Q15Vectors(size_t count, size_t width, bool with_values)
      : width_(width),
        digits_(count * 2 * width),
        half_scale_(count * blocks()),
        offset_(count * blocks()),
        values_(with_values ? count * width : 0),
        lane_bias_(kZmmLanes ? count * blocks() * kZmmLanesPerBlock : 0),
        lane_scale_(kZmmLanes ? count * blocks() * kZmmLanesPerBlock : 0) {}

  size_t blocks() const { return width_ / kQ15BlockElements; }
  Q15Vector vector(size_t v) const {
    const size_t lanes = v * blocks() * kZmmLanesPerBlock;
    return Q15Vector{digits_.data() + v * 2 * width_,
                     half_scale_.data() + v * blocks(),
                     offset_.data() + v * blocks(),
                     values_.empty() ? nullptr : values_.data() + v * width_,
                     kZmmLanes ? lane_bias_.data() + lanes : nullptr,
                     kZmmLanes ? lane_scale_.data() + lanes : nullptr};
  }

  // Quantizes vector v from src, whose block element j sits at
  // src[block start + position(j)]; with `dequantized`, also writes
  // value * scale there in Simd::decode_order (for the fp32 and bf16
  // products, which then multiply the same inputs). It may be src.
  template <class Position>
  void quantize(size_t v, const float* src, Position position, float* dequantized) {
    constexpr size_t kHalf = kQ15BlockElements / 2;
    for (size_t b = 0; b < blocks(); ++b) {
      float natural[kQ15BlockElements];
      int16_t values[kQ15BlockElements];
      for (size_t j = 0; j < kQ15BlockElements; ++j) natural[j] = src[b * kQ15BlockElements + position(j)];
      const float scale = quantize_q15_block(natural, values);
      const Q15Group group = q15_group(b, blocks(), Simd::kQ15GroupBlocks);
      // Where this block's high digits of even elements start, and how far
      // its odd elements and its low digits are from there.
      int8_t* start = digits_.data() + v * 2 * width_ + group.first * 64 + (b - group.first) * kHalf;
      const size_t odd_offset = group.size * kHalf, low_offset = group.size * 2 * kHalf;
      int sum = 0, lane_sums[kZmmLanesPerBlock] = {};
      for (size_t j = 0; j < kQ15BlockElements; ++j) {
        const int value = values[j];
        const int high = (value + 64) >> 7;  // floor: value - 128 * high is within -64..63
        int8_t* slot = start + (j % 2) * odd_offset + j / 2;
        slot[0] = static_cast<int8_t>(high);
        slot[low_offset] = static_cast<int8_t>(value - 128 * high);
        sum += value;
        lane_sums[j / (kQ15BlockElements / kZmmLanesPerBlock)] += value;
        if (!values_.empty()) values_[v * width_ + b * kQ15BlockElements + j] = static_cast<int16_t>(value);
        if (dequantized != nullptr) {
          dequantized[b * kQ15BlockElements + Simd::decode_order(j)] = static_cast<float>(value) * scale;
        }
      }
      half_scale_[v * blocks() + b] = scale / 2;
      offset_[v * blocks() + b] = scale / 2 * static_cast<float>(12 * sum);
      for (size_t l = 0; l < (kZmmLanes ? kZmmLanesPerBlock : 0); ++l) {
        lane_bias_[(v * blocks() + b) * kZmmLanesPerBlock + l] = 12 * lane_sums[l];
        lane_scale_[(v * blocks() + b) * kZmmLanesPerBlock + l] = scale / 2;
      }
    }
  }

 private:
  // Whether the level multiplies 512-bit groups, whose int32 lanes each sum
  // 8 consecutive elements of a block.
  static constexpr bool kZmmLanes = Simd::kQ15GroupBlocks == 4;
  static constexpr size_t kZmmLanesPerBlock = 4;

  size_t width_;
  CacheLineVector<int8_t> digits_;
  std::vector<float> half_scale_, offset_;
  CacheLineVector<int16_t> values_;
  CacheLineVector<int32_t> lane_bias_;
  CacheLineVector<float> lane_scale_;
};

namespace q15_detail {

using Int = OSSRT_X86(__m256i);
using Float = OSSRT_X86(__m256);

// 2^(s - 127) for a scale byte, from the exponent bits (s = 0 gives 0, not
// 2^-127: below any sum's rounding), and for 8 of them.
inline float scale_power(uint8_t s) {
  return OSSRT_X86(_mm_cvtss_f32)(
      OSSRT_X86(_mm_castsi128_ps)(OSSRT_X86(_mm_cvtsi32_si128)(static_cast<int>(static_cast<uint32_t>(s) << 23))));
}
inline Float scale_powers(const uint8_t* bytes) {
  const Int wide =
      OSSRT_X86(_mm256_cvtepu8_epi32)(OSSRT_X86(_mm_loadl_epi64)(reinterpret_cast<const OSSRT_X86(__m128i)*>(bytes)));
  return OSSRT_X86(_mm256_castsi256_ps)(OSSRT_X86(_mm256_slli_epi32)(wide, 23));
}

// FP4 code -> 12 + twice its value, in 0 .. 24: unsigned, as vpmaddubsw
// wants its first operand; the 12s are taken off through Q15Vector::offset.
inline Int code_table() {
  return OSSRT_X86(_mm256_setr_epi8)(12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0, 12, 13, 14, 15, 16, 18,
                                     20, 24, 12, 11, 10, 9, 8, 6, 4, 0);
}

inline Float load(const float* p) {
  return OSSRT_X86(_mm256_loadu_ps)(p);
}
inline Int load_int(const void* p) {
  return OSSRT_X86(_mm256_loadu_si256)(static_cast<const Int*>(p));
}

// The 8 int32 lanes of weights (w, of elements in digit order, as 32 or 64
// bytes in `halves` registers) times the values whose digits start at
// `digits` (low digits `low_offset` bytes on): each lane sums 8 products.
// The 16-bit sums of one digit stay within 2 * 2 * 24 * 127 = 12192. (An
// out parameter: the isa.baseline-shared-code test reads a template's
// namespace after a one-word return type.)
template <size_t Halves>
inline void products(const Int (&w)[Halves], const int8_t* digits, size_t low_offset, Int& sums) {
  Int high = OSSRT_X86(_mm256_maddubs_epi16)(w[0], load_int(digits));
  Int low = OSSRT_X86(_mm256_maddubs_epi16)(w[0], load_int(digits + low_offset));
  if constexpr (Halves == 2) {
    high = OSSRT_X86(_mm256_add_epi16)(high, OSSRT_X86(_mm256_maddubs_epi16)(w[1], load_int(digits + 32)));
    low = OSSRT_X86(_mm256_add_epi16)(low, OSSRT_X86(_mm256_maddubs_epi16)(w[1], load_int(digits + low_offset + 32)));
  }
  sums = OSSRT_X86(_mm256_add_epi32)(OSSRT_X86(_mm256_madd_epi16)(high, OSSRT_X86(_mm256_set1_epi16)(128)),
                                     OSSRT_X86(_mm256_madd_epi16)(low, OSSRT_X86(_mm256_set1_epi16)(1)));
}

}  // namespace q15_detail

// sums[t] += the MXFP4 row's dot with Q15 vector x[t] over its blocks
// [from, count), for NT vectors, in 256-bit registers: all of a row on the AVX2
// level, the blocks after the last 512-bit group on the AVX-512 one. Per
// block pair each int32 lane sums 8 products exactly (lanes 0-3 block 2p,
// lanes 4-7 block 2p + 1); three horizontal adds turn a group of 4 pairs
// into its 8 block sums, still exact (below 2^24), and one conversion and
// FMA apply the blocks' scales (row byte times vector scale).
template <size_t NT>
inline __attribute__((always_inline)) void q15_ymm_blocks(const uint8_t* blocks, const uint8_t* scales, size_t count,
                                                          const Q15Vector* x, size_t from, float* sums) {
  using namespace q15_detail;
  const Int table = code_table(), nibble = OSSRT_X86(_mm256_set1_epi8)(0x0f);
  // The horizontal adds leave blocks in the order 0, 2, 4, 6, 1, 3, 5, 7.
  const Int hadd_order = OSSRT_X86(_mm256_setr_epi32)(0, 2, 4, 6, 1, 3, 5, 7);
  Float acc[NT], offset[NT];
  for (size_t t = 0; t < NT; ++t) acc[t] = offset[t] = OSSRT_X86(_mm256_setzero_ps)();
  // The table's values for blocks p and p + 1's low nibbles, or high ones.
  const auto pair_codes = [&](size_t p, bool high) {
    const Int raw = load_int(blocks + p * kMxfp4BlockBytes);
    return OSSRT_X86(_mm256_shuffle_epi8)(
        table, OSSRT_X86(_mm256_and_si256)(high ? OSSRT_X86(_mm256_srli_epi16)(raw, 4) : raw, nibble));
  };
  size_t b = from;
  // A group: blocks [b, b + 8) as 4 pairs (the 256-bit layout's groups).
  constexpr size_t kGroup = 8;
  for (; b + kGroup <= count; b += kGroup) {
    prefetch_ahead(blocks + b * kMxfp4BlockBytes);
    prefetch_ahead(blocks + b * kMxfp4BlockBytes + 64);
    Int pair_sums[NT][kGroup / 2];
    for (size_t p = 0; p < kGroup / 2; ++p) {
      const Int w[2] = {pair_codes(b + 2 * p, false), pair_codes(b + 2 * p, true)};
      for (size_t t = 0; t < NT; ++t) products(w, x[t].digits + (b + 2 * p) * 64, 64, pair_sums[t][p]);
    }
    const Float powers = scale_powers(scales + b);
    for (size_t t = 0; t < NT; ++t) {
      const Int block_sums =
          OSSRT_X86(_mm256_hadd_epi32)(OSSRT_X86(_mm256_hadd_epi32)(pair_sums[t][0], pair_sums[t][1]),
                                       OSSRT_X86(_mm256_hadd_epi32)(pair_sums[t][2], pair_sums[t][3]));
      const Float block_scales =
          OSSRT_X86(_mm256_permutevar8x32_ps)(OSSRT_X86(_mm256_mul_ps)(powers, load(x[t].half_scale + b)), hadd_order);
      acc[t] = OSSRT_X86(_mm256_fmadd_ps)(OSSRT_X86(_mm256_cvtepi32_ps)(block_sums), block_scales, acc[t]);
      offset[t] = OSSRT_X86(_mm256_fmadd_ps)(powers, load(x[t].offset + b), offset[t]);
    }
  }
  // The last pairs, one at a time: each pair's 8 lane sums scaled by a
  // vector holding its two blocks' scales, no horizontal adds. (Zero-padding
  // them into a group cost about 150 cycles a row, a third of a 2880-wide
  // row's time: gpt-oss's rows are 90 blocks, 11 groups and a pair.)
  float tail_offset[NT] = {};
  for (; b + 2 <= count; b += 2) {
    const Int w[2] = {pair_codes(b, false), pair_codes(b, true)};
    const float first = scale_power(scales[b]), second = scale_power(scales[b + 1]);
    for (size_t t = 0; t < NT; ++t) {
      Int pair_sums;
      products(w, x[t].digits + b * 64, 64, pair_sums);
      const Float pair_scales = OSSRT_X86(_mm256_setr_m128)(OSSRT_X86(_mm_set1_ps)(first * x[t].half_scale[b]),
                                                            OSSRT_X86(_mm_set1_ps)(second * x[t].half_scale[b + 1]));
      acc[t] = OSSRT_X86(_mm256_fmadd_ps)(OSSRT_X86(_mm256_cvtepi32_ps)(pair_sums), pair_scales, acc[t]);
      tail_offset[t] += first * x[t].offset[b] + second * x[t].offset[b + 1];
    }
  }
  if (b < count) {  // an unpaired last block: its low nibbles, then its high ones, in one register
    const auto raw = OSSRT_X86(_mm_loadu_si128)(reinterpret_cast<const OSSRT_X86(__m128i)*>(blocks + b * 16));
    const Int both = OSSRT_X86(_mm256_inserti128_si256)(OSSRT_X86(_mm256_castsi128_si256)(raw),
                                                        OSSRT_X86(_mm_srli_epi16)(raw, 4), 1);
    const Int w[1] = {OSSRT_X86(_mm256_shuffle_epi8)(table, OSSRT_X86(_mm256_and_si256)(both, nibble))};
    const float power = scale_power(scales[b]);
    for (size_t t = 0; t < NT; ++t) {
      Int block_sums;
      products(w, x[t].digits + b * 64, 32, block_sums);
      const Float block = OSSRT_X86(_mm256_cvtepi32_ps)(block_sums);
      acc[t] = OSSRT_X86(_mm256_fmadd_ps)(block, OSSRT_X86(_mm256_set1_ps)(power * x[t].half_scale[b]), acc[t]);
      tail_offset[t] += power * x[t].offset[b];
    }
  }
  for (size_t t = 0; t < NT; ++t) {
    sums[t] = sums[t] + Simd::sum256(acc[t]) - (Simd::sum256(offset[t]) + tail_offset[t]);
  }
}

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE

#if defined(OSSRT_CPU_Q15_ZMM)
#include "backend/cpu/mxfp4_q15_zmm.h"
#endif

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

// output(r, sums) with sums[t] = the dot of row r (blocks + r * count * 16,
// scales + r * count: `count` blocks) with Q15 vector x[t], for rows
// [first, last) and nt (1 to 4) vectors. The row loop sits inside the
// level's product (the AVX-512 one's target function): called a row at a
// time, setting up and dispatching each 90-block row cost about a third of
// its time on cached data.
template <class Output>
void mxfp4_q15_rows(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t first, size_t last,
                    const Q15Vector* x, size_t nt, Output output) {
  with_count<4>(nt, [&](auto vectors) {
    constexpr size_t NT = decltype(vectors)::value;
#if defined(OSSRT_CPU_Q15_ZMM)
    q15_zmm_rows<NT>(blocks, scales, count, first, last, x, output);
#else
    for (size_t r = first; r < last; ++r) {
      float sums[NT] = {};
      q15_ymm_blocks<NT>(blocks + r * count * kMxfp4BlockBytes, scales + r * count, count, x, 0, sums);
      output(r, static_cast<const float*>(sums));
    }
#endif
  });
}

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
