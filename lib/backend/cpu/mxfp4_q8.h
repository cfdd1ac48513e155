// MXFP4 rows times Q8 vectors (util/q8.h): the products of expert groups
// too small for the panel products (a decoded token's experts, a batched
// step's 1-4-token groups) where the CPU has AVX512-VNNI and AVX512-VBMI,
// of one byte a value under Numerics::fast (Q8) and of three under
// Numerics::exact (Q24). On the AVX-512 level one 64-byte load of a group
// of 4 blocks' codes becomes twice their FP4 values as bytes through two
// vpermb (even elements from the low nibbles, odd ones from the high): int32
// lane l then sums the 8 products of one lane exactly (block l / 4,
// elements 8 (l % 4) .. + 8) with two vpdpbusd per digit (Q24's each next
// after a shift of the lanes by 8 bits). Their first operand, unsigned, is
// the weights, biased by 12; the inputs' signed digits the second, and 12
// times the inputs' lane sums, made with the inputs, come off the lanes
// (the Q8 lanes start from there). One conversion, one multiply and one FMA
// apply the lanes' scales and the blocks' powers (16 blocks' scales a
// load). A decoded token's group takes 5.25 loads and 9 operations in Q8,
// against 7 and 16 for fast's bf16 products (mxfp4_bf16.h), and 9.25 and
// 16 in Q24, against exact's three bf16 terms' 15 and 24. From memory a
// core's software prefetches bound its rate (q15_zmm_detail::
// prefetch_past_group), then its loads; from L3, its operations (one
// thread, a decoded token's 4 experts at 1440 wide: Q8 with the inputs as
// the unsigned operand, offset by 128, and 12 operations 20.5 GB/s, as now
// 23.2). Include once per level's kernel file, after mxfp4_q15.h; on
// the AVX2 level (no OSSRT_CPU_Q15_ZMM) the same Q8 lanes come out of
// AVX-VNNI's 256-bit vpdpbusd (mxfp4_q8_ymm_detail), Q24's too, or without
// it Q24's out of vpmaddubsw and vpmaddwd, with no tiles.
// Experts a backend
// tiled at load (mxfp4_tiles.h) take mxfp4_q8_tiles: the same lanes, 16 rows
// a register, summed in another order.
#pragma once

#include <algorithm>

#include "backend/cpu/mxfp4_q15.h"
#include "backend/cpu/mxfp4_q15_gemm.h"
#include "backend/cpu/mxfp4_tiles.h"
#include "util/aligned_vector.h"
#include "util/q8.h"

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

static_assert(kMxfp4BlockElements % kQ8LaneElements == 0, "a block holds whole Q8 lanes");
inline constexpr size_t kQ8LanesPerBlock = kMxfp4BlockElements / kQ8LaneElements;
// The weights are vpdpbusd's unsigned operand: their twice-values plus this.
inline constexpr int kQ8WeightBias = 12;

// One Q8 vector in the products' layout, of 1 byte digit a value (Q8,
// Numerics::fast) or 3 (Q24, Numerics::exact), each digit's bytes a plane
// of as many bytes as the vector has elements, the top digit's first. A
// plane: blocks grouped as the Q15 digits are (q15_group with groups of 4,
// then a pair, then a single last block), a group of G blocks from byte
// 32 * (its first block) holding the digits of its even elements (16 a
// block, block by block), then those of its odd ones: the order in which
// the low and high nibbles of the group's 16G code bytes come out. Digits
// are signed bytes, vpdpbusd's second operand: Q8's the value, Q24's with
// value = top * 2^16 + middle * 2^8 + low.
struct Q8Vector {
  const uint8_t* values;
  const float* lane_scale;     // per lane of 8 elements, 4 a block in order: its scale / 2 (twice-values)
  const int32_t* lane_offset;  // per lane: minus kQ8WeightBias times the sum of its values
  size_t digits = 1;
};

// Vectors of `width` elements (a multiple of 32) quantized for
// mxfp4_q8_rows, `digits` (1 or 3) bytes a value.
class Q8Vectors {
 public:
  Q8Vectors(size_t count, size_t width, size_t digits = 1)
      : width_(width),
        digits_(digits),
        values_(count * width * digits),
        lane_scale_(count * lanes()),
        lane_offset_(count * lanes()) {}

  size_t lanes() const { return width_ / kQ8LaneElements; }
  Q8Vector vector(size_t v) const {
    return Q8Vector{values_.data() + v * width_ * digits_, lane_scale_.data() + v * lanes(),
                    lane_offset_.data() + v * lanes(), digits_};
  }

  // Quantizes vector v from src, whose block element j sits at
  // src[block start + position(j)].
  template <class Position>
  void quantize(size_t v, const float* src, Position position) {
    constexpr size_t kHalf = kMxfp4BlockElements / 2;
    const size_t blocks = width_ / kMxfp4BlockElements;
    for (size_t b = 0; b < blocks; ++b) {
      const Q15Group group = q15_group(b, blocks, 4);
      // Where this block's even elements' top digits start, and how far its odd ones are from there.
      uint8_t* even =
          values_.data() + v * width_ * digits_ + group.first * kMxfp4BlockElements + (b - group.first) * kHalf;
      const size_t odd_offset = group.size * kHalf;
      for (size_t l = 0; l < kQ8LanesPerBlock; ++l) {
        float natural[kQ8LaneElements];
        for (size_t i = 0; i < kQ8LaneElements; ++i) {
          natural[i] = src[b * kMxfp4BlockElements + position(l * kQ8LaneElements + i)];
        }
        int32_t values[kQ8LaneElements];
        float scale;
        if (digits_ == 1) {
          int8_t bytes[kQ8LaneElements];
          scale = quantize_q8_lane(natural, bytes);
          for (size_t i = 0; i < kQ8LaneElements; ++i) values[i] = bytes[i];
        } else {
          scale = quantize_q24_lane(natural, values);
        }
        int32_t sum = 0;
        for (size_t i = 0; i < kQ8LaneElements; ++i) {
          const size_t j = l * kQ8LaneElements + i;
          uint8_t* at = even + j % 2 * odd_offset + j / 2;
          sum += values[i];
          // Signed digits, the lowest first: the value's low byte as a signed one, the rest of
          // it then a whole multiple of 256. Digit d is stored in plane D - 1 - d (the top first).
          int32_t rest = values[i];
          for (size_t d = 0; d < digits_; ++d) {
            const auto digit = static_cast<int8_t>(static_cast<uint8_t>(rest & 0xff));
            at[(digits_ - 1 - d) * width_] = static_cast<uint8_t>(digit);
            rest = (rest - digit) / 256;
          }
        }
        const size_t lane = v * lanes() + b * kQ8LanesPerBlock + l;
        lane_scale_[lane] = scale / 2;
        lane_offset_[lane] = -kQ8WeightBias * sum;
      }
    }
  }

 private:
  size_t width_, digits_;
  CacheLineVector<uint8_t> values_;
  CacheLineVector<float> lane_scale_;
  CacheLineVector<int32_t> lane_offset_;
};

#if defined(OSSRT_CPU_Q15_ZMM)

// Whether the CPU has AVX512-VNNI and AVX512-VBMI (the level's kernel file
// answers; the tests' emulation says yes).
bool mxfp4_q8_products() noexcept;
// The Q24 products (3 digits, exact numerics) too.
inline bool mxfp4_q24_products() noexcept {
  return mxfp4_q8_products();
}

#if defined(OSSRT_CPU_EMULATE_AVX512)
#define OSSRT_Q8_TARGET
#else
#define OSSRT_Q8_TARGET \
  __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni,avx512vbmi"), flatten))
#endif

namespace mxfp4_q8_detail {

using Zint = OSSRT_X86(__m512i);
using Yint = OSSRT_X86(__m256i);
using Xint = OSSRT_X86(__m128i);
using Zfloat = OSSRT_X86(__m512);

inline Xint load_xmm(const void* p) {
  return OSSRT_X86(_mm_loadu_si128)(static_cast<const Xint*>(p));
}

// Twice each FP4 value by code plus kQ8WeightBias (0 to 24), in every
// 128-bit lane: vpermb reads 6 bits of each index byte (5 at 256 bits, 4 at
// 128), so the bits of the next nibble above a code pick among equal copies.
inline Zint biased_twice_values() {
  return OSSRT_X86(_mm512_broadcast_i32x4)(
      OSSRT_X86(_mm_add_epi8)(q15_gemm_detail::twice_value_table(), OSSRT_X86(_mm_set1_epi8)(kQ8WeightBias)));
}

// The operations of the products at each width: a 4-block group's in 512
// bits, a row's last pair's in 256 and its last block's in 128 (kHalf: the
// bytes of a digit plane's even elements, which its odd ones follow).
struct Zmm {
  using Int = Zint;
  static constexpr size_t kHalf = 64;
  OSSRT_Q8_TARGET static Int load(const void* p) { return q15_zmm_detail::load(p); }
  OSSRT_Q8_TARGET static Int narrow(Zint v) { return v; }
  OSSRT_Q8_TARGET static Int permute(Int index, Int table) { return OSSRT_X86(_mm512_permutexvar_epi8)(index, table); }
  OSSRT_Q8_TARGET static Int high_nibbles(Int v) { return OSSRT_X86(_mm512_srli_epi16)(v, 4); }
  OSSRT_Q8_TARGET static Int zero() { return OSSRT_X86(_mm512_setzero_si512)(); }
  OSSRT_Q8_TARGET static Int add(Int a, Int b) { return OSSRT_X86(_mm512_add_epi32)(a, b); }
  OSSRT_Q8_TARGET static Int dot(Int acc, Int u, Int s) { return OSSRT_X86(_mm512_dpbusd_epi32)(acc, u, s); }
  OSSRT_Q8_TARGET static Int next_digit(Int v) { return OSSRT_X86(_mm512_slli_epi32)(v, 8); }
};
struct Ymm {
  using Int = Yint;
  static constexpr size_t kHalf = 32;
  OSSRT_Q8_TARGET static Int load(const void* p) { return q15_detail::load_int(p); }
  OSSRT_Q8_TARGET static Int narrow(Zint v) { return OSSRT_X86(_mm512_castsi512_si256)(v); }
  OSSRT_Q8_TARGET static Int permute(Int index, Int table) { return OSSRT_X86(_mm256_permutexvar_epi8)(index, table); }
  OSSRT_Q8_TARGET static Int high_nibbles(Int v) { return OSSRT_X86(_mm256_srli_epi16)(v, 4); }
  OSSRT_Q8_TARGET static Int zero() { return OSSRT_X86(_mm256_setzero_si256)(); }
  OSSRT_Q8_TARGET static Int add(Int a, Int b) { return OSSRT_X86(_mm256_add_epi32)(a, b); }
  OSSRT_Q8_TARGET static Int dot(Int acc, Int u, Int s) { return OSSRT_X86(_mm256_dpbusd_epi32)(acc, u, s); }
  OSSRT_Q8_TARGET static Int next_digit(Int v) { return OSSRT_X86(_mm256_slli_epi32)(v, 8); }
};
struct Xmm {
  using Int = Xint;
  static constexpr size_t kHalf = 16;
  OSSRT_Q8_TARGET static Int load(const void* p) { return load_xmm(p); }
  OSSRT_Q8_TARGET static Int narrow(Zint v) { return OSSRT_X86(_mm512_castsi512_si128)(v); }
  OSSRT_Q8_TARGET static Int permute(Int index, Int table) { return OSSRT_X86(_mm_permutexvar_epi8)(index, table); }
  OSSRT_Q8_TARGET static Int high_nibbles(Int v) { return OSSRT_X86(_mm_srli_epi16)(v, 4); }
  OSSRT_Q8_TARGET static Int zero() { return OSSRT_X86(_mm_setzero_si128)(); }
  OSSRT_Q8_TARGET static Int add(Int a, Int b) { return OSSRT_X86(_mm_add_epi32)(a, b); }
  OSSRT_Q8_TARGET static Int dot(Int acc, Int u, Int s) { return OSSRT_X86(_mm_dpbusd_epi32)(acc, u, s); }
  OSSRT_Q8_TARGET static Int next_digit(Int v) { return OSSRT_X86(_mm_slli_epi32)(v, 8); }
};

// Codes' biased twice-values (biased_twice_values): even elements from the
// low nibbles, odd ones from the high.
template <class W>
struct Codes {
  typename W::Int even, odd;
};
template <class W>
OSSRT_Q8_TARGET inline __attribute__((always_inline)) Codes<W> decode_codes(typename W::Int raw, Zint table) {
  return Codes<W>{W::permute(raw, W::narrow(table)), W::permute(W::high_nibbles(raw), W::narrow(table))};
}

// One token's lanes from its block b on: each sums its 8 products exactly,
// Q24's digits' sums shifted in as the next digit comes (before the
// offset, at most 8 x 24 x 128 (2^16 + 2^8 + 1) < 2^31).
template <class W, size_t Digits>
OSSRT_Q8_TARGET inline __attribute__((always_inline)) typename W::Int digit_lanes(const Codes<W>& c, const Q8Vector& x,
                                                                                  size_t b, size_t plane) {
  const uint8_t* values = x.values + b * kMxfp4BlockElements;
  const typename W::Int offset = W::load(x.lane_offset + b * kQ8LanesPerBlock);
  typename W::Int lanes = Digits == 1 ? offset : W::zero();
  for (size_t d = 0; d < Digits; ++d) {
    if (d > 0) lanes = W::next_digit(lanes);
    const uint8_t* digit = values + d * plane;
    lanes = W::dot(W::dot(lanes, c.even, W::load(digit)), c.odd, W::load(digit + W::kHalf));
  }
  return Digits == 1 ? lanes : W::add(lanes, offset);
}

OSSRT_Q8_TARGET inline __attribute__((always_inline)) Codes<Zmm> group_codes(const uint8_t* codes, Zint table) {
  // One 64-byte load, though a 90-block row puts every other row's groups
  // across two lines: each load a core keeps waiting holds a load-queue
  // entry, and the queue, not the arithmetic, bounds how many lines it has
  // in flight (standalone, 2 threads from memory: two 32-byte halves 30-36
  // GB/s, one load 36-40).
  // In a register: GCC 12 otherwise folds a second load of the codes into the shift.
  return decode_codes<Zmm>(held_in_register(Zmm::load(codes)), table);
}

// acc[t] += the 4 blocks from block g of the row times x[t] (Digits bytes a
// value, the planes `plane` bytes apart), their powers of two in `powers`
// (block q's in 128-bit lane q).
template <size_t NT, size_t Digits>
OSSRT_Q8_TARGET inline __attribute__((always_inline)) void add_group(const uint8_t* blocks, size_t g, Zfloat powers,
                                                                     const Q8Vector* x, size_t plane, Zint table,
                                                                     Zfloat (&acc)[NT]) {
  q15_zmm_detail::prefetch_past_group(blocks + g * kMxfp4BlockBytes);
  const Codes<Zmm> c = group_codes(blocks + g * kMxfp4BlockBytes, table);
  for (size_t t = 0; t < NT; ++t) {
    const Zint lanes = digit_lanes<Zmm, Digits>(c, x[t], g, plane);
    acc[t] = OSSRT_X86(_mm512_fmadd_ps)(
        Simd::int_to_float(lanes),
        OSSRT_X86(_mm512_mul_ps)(powers, OSSRT_X86(_mm512_loadu_ps)(x[t].lane_scale + g * kQ8LanesPerBlock)), acc[t]);
  }
}

// The blocks' powers of two for 4 groups from one 16-byte load of scales
// (a load for each group's 4 bytes had cost as many loads as the group's
// inputs): lane l of group j's vector holds block 4j + l / 4's.
struct SixteenPowers {
  Zfloat all;
  OSSRT_Q8_TARGET Zfloat group(int j) const {
    const Zint lane_block = OSSRT_X86(_mm512_setr_epi32)(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    return OSSRT_X86(_mm512_permutexvar_ps)(
        OSSRT_X86(_mm512_add_epi32)(lane_block, OSSRT_X86(_mm512_set1_epi32)(4 * j)), all);
  }
};
OSSRT_Q8_TARGET inline SixteenPowers sixteen_powers(const uint8_t* scales) {
  // Byte l of the 16 into the low byte of dword l (each 128-bit lane holds all 16 bytes).
  const Zint spread = OSSRT_X86(_mm512_setr_epi32)(
      static_cast<int>(0x80808000u), static_cast<int>(0x80808001u), static_cast<int>(0x80808002u),
      static_cast<int>(0x80808003u), static_cast<int>(0x80808004u), static_cast<int>(0x80808005u),
      static_cast<int>(0x80808006u), static_cast<int>(0x80808007u), static_cast<int>(0x80808008u),
      static_cast<int>(0x80808009u), static_cast<int>(0x8080800au), static_cast<int>(0x8080800bu),
      static_cast<int>(0x8080800cu), static_cast<int>(0x8080800du), static_cast<int>(0x8080800eu),
      static_cast<int>(0x8080800fu));
  const Zint bytes = OSSRT_X86(_mm512_shuffle_epi8)(OSSRT_X86(_mm512_broadcast_i32x4)(load_xmm(scales)), spread);
  return SixteenPowers{OSSRT_X86(_mm512_castsi512_ps)(OSSRT_X86(_mm512_slli_epi32)(bytes, 23))};
}

// sums[t] += the row's last pair of blocks (from b) times x[t], in 256-bit
// registers: block q's lanes in 128-bit lane q.
template <size_t NT, size_t Digits>
OSSRT_Q8_TARGET inline __attribute__((always_inline)) void add_pair(const uint8_t* blocks, const uint8_t* scales,
                                                                    size_t b, const Q8Vector* x, size_t plane,
                                                                    Zint table, float* sums) {
  const Codes<Ymm> c = decode_codes<Ymm>(Ymm::load(blocks + b * kMxfp4BlockBytes), table);
  const OSSRT_X86(__m256) powers =
      OSSRT_X86(_mm256_setr_m128)(OSSRT_X86(_mm_set1_ps)(q15_detail::scale_power(scales[b])),
                                  OSSRT_X86(_mm_set1_ps)(q15_detail::scale_power(scales[b + 1])));
  for (size_t t = 0; t < NT; ++t) {
    const Yint lanes = digit_lanes<Ymm, Digits>(c, x[t], b, plane);
    sums[t] += Simd::sum256(OSSRT_X86(_mm256_mul_ps)(
        OSSRT_X86(_mm256_cvtepi32_ps)(lanes),
        OSSRT_X86(_mm256_mul_ps)(powers, OSSRT_X86(_mm256_loadu_ps)(x[t].lane_scale + b * kQ8LanesPerBlock))));
  }
}

// sums[t] += the row's single last block b times x[t], in 128-bit registers.
template <size_t NT, size_t Digits>
OSSRT_Q8_TARGET inline __attribute__((always_inline)) void add_block(const uint8_t* blocks, const uint8_t* scales,
                                                                     size_t b, const Q8Vector* x, size_t plane,
                                                                     Zint table, float* sums) {
  const Codes<Xmm> c = decode_codes<Xmm>(Xmm::load(blocks + b * kMxfp4BlockBytes), table);
  const float power = q15_detail::scale_power(scales[b]);
  for (size_t t = 0; t < NT; ++t) {
    const Xint lanes = digit_lanes<Xmm, Digits>(c, x[t], b, plane);
    const OSSRT_X86(__m128) products = OSSRT_X86(_mm_mul_ps)(
        OSSRT_X86(_mm_cvtepi32_ps)(lanes), OSSRT_X86(_mm_loadu_ps)(x[t].lane_scale + b * kQ8LanesPerBlock));
    sums[t] += power * Simd::sum256(OSSRT_X86(_mm256_zextps128_ps256)(products));
  }
}

// The rows' dots: each row's 4-block groups alternating between two
// accumulators (as the Q15 and bf16 products do), 16 blocks' scales at a
// time while a row has them, then its pair and block.
template <size_t NT, size_t Digits, class Output>
OSSRT_Q8_TARGET void rows(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t first, size_t last,
                          const Q8Vector* x, Output& output) {
  const Zint table = biased_twice_values();
  const size_t plane = count * kMxfp4BlockElements;  // a row's inputs: the bytes of a digit plane
  for (size_t r = first; r < last; ++r) {
    const uint8_t* row_blocks = blocks + r * count * kMxfp4BlockBytes;
    const uint8_t* row_scales = scales + r * count;
    Zfloat even[NT], odd[NT];
    for (size_t t = 0; t < NT; ++t) even[t] = odd[t] = OSSRT_X86(_mm512_setzero_ps)();
    size_t g = 0;
    for (; g + 16 <= count; g += 16) {
      const SixteenPowers powers = sixteen_powers(row_scales + g);
      add_group<NT, Digits>(row_blocks, g, powers.group(0), x, plane, table, even);
      add_group<NT, Digits>(row_blocks, g + 4, powers.group(1), x, plane, table, odd);
      add_group<NT, Digits>(row_blocks, g + 8, powers.group(2), x, plane, table, even);
      add_group<NT, Digits>(row_blocks, g + 12, powers.group(3), x, plane, table, odd);
    }
    // Each accumulator named where it is used: picked at run time, both lived on the stack.
    for (; g + 8 <= count; g += 8) {
      add_group<NT, Digits>(row_blocks, g, q15_zmm_detail::group_powers(row_scales + g), x, plane, table, even);
      add_group<NT, Digits>(row_blocks, g + 4, q15_zmm_detail::group_powers(row_scales + g + 4), x, plane, table, odd);
    }
    if (g + 4 <= count) {
      add_group<NT, Digits>(row_blocks, g, q15_zmm_detail::group_powers(row_scales + g), x, plane, table, even);
      g += 4;
    }
    float sums[NT];
    for (size_t t = 0; t < NT; ++t) sums[t] = Simd::sum(OSSRT_X86(_mm512_add_ps)(even[t], odd[t]));
    if (g + 2 <= count) {
      add_pair<NT, Digits>(row_blocks, row_scales, g, x, plane, table, sums);
      g += 2;
    }
    if (g < count) add_block<NT, Digits>(row_blocks, row_scales, g, x, plane, table, sums);
    output(r, static_cast<const float*>(sums));
  }
}

// How far ahead of a tile's block its stream asks for lines into L1 (and,
// as the rows do, 16 KiB ahead into L2). A decoded token's experts from
// memory, one thread (Zen 4, 27.8 GB/s in rows): 3 KiB 28.5, 6 KiB 25.9,
// 12 KiB 20.6, none 22.7; two threads 34.3, 32.2, -, 32.4 against 33.0 in
// rows, a plain 2-thread read then giving 31-34.
inline constexpr size_t kTileL1PrefetchBytes = 3072;

// One tile's block b (mxfp4_tiles.h) times x[t]: lane j of acc[t][c % 2]
// adds row j's 8 products with each 8-element lane c of the block, as
// digit_lanes sums them, times the lane's scale, the pair of lanes' sum then
// times the row's power. Every
// input lane's 4 even and 4 odd bytes are one broadcast each (the Q8Vector
// layout keeps them together).
template <size_t NT, size_t Digits>
OSSRT_Q8_TARGET inline __attribute__((always_inline)) void add_tile_block(const uint8_t* codes, const uint8_t* scales,
                                                                          size_t b, size_t count, const Q8Vector* x,
                                                                          size_t plane, Zint table,
                                                                          Zfloat (&acc)[NT][2]) {
  const uint8_t* block = codes + b * kMxfp4TileBlockBytes;
  for (size_t line = 0; line < kMxfp4TileBlockBytes; line += 64) {
    prefetch_at(block + line + kTileL1PrefetchBytes);
    prefetch_to_l2_at(block + line + q15_zmm_detail::kGroupL2PrefetchBytes);
  }
  const Zfloat powers = sixteen_powers(scales + b * kMxfp4TileRows).all;  // row j's in lane j
  const Q15Group group = q15_group(b, count, 4);
  const size_t even = group.first * kMxfp4BlockElements + (b - group.first) * kMxfp4BlockElements / 2;
  const size_t odd = even + group.size * kMxfp4BlockElements / 2;
  // The block's lanes times their input scales, the rows' powers applied
  // once to the sum (a power of two scales exactly).
  Zfloat scaled[NT][2];
  for (size_t c = 0; c < kMxfp4TileChunks; ++c) {
    const Codes<Zmm> codes_c =
        decode_codes<Zmm>(held_in_register(Zmm::load(block + c * 64)), table);  // as in group_codes
    const size_t lane = b * kQ8LanesPerBlock + c;
    for (size_t t = 0; t < NT; ++t) {
      const Zint offset = OSSRT_X86(_mm512_set1_epi32)(x[t].lane_offset[lane]);
      Zint lanes = Digits == 1 ? offset : Zmm::zero();
      for (size_t d = 0; d < Digits; ++d) {
        if (d > 0) lanes = Zmm::next_digit(lanes);
        const uint8_t* digit = x[t].values + d * plane;
        int32_t even_bytes, odd_bytes;
        std::memcpy(&even_bytes, digit + even + 4 * c, 4);
        std::memcpy(&odd_bytes, digit + odd + 4 * c, 4);
        lanes = Zmm::dot(Zmm::dot(lanes, codes_c.even, OSSRT_X86(_mm512_set1_epi32)(even_bytes)), codes_c.odd,
                         OSSRT_X86(_mm512_set1_epi32)(odd_bytes));
      }
      if (Digits != 1) lanes = Zmm::add(lanes, offset);
      const Zfloat lane_scale = OSSRT_X86(_mm512_set1_ps)(x[t].lane_scale[lane]);
      scaled[t][c % 2] = c < 2 ? OSSRT_X86(_mm512_mul_ps)(Simd::int_to_float(lanes), lane_scale)
                               : OSSRT_X86(_mm512_fmadd_ps)(Simd::int_to_float(lanes), lane_scale, scaled[t][c % 2]);
    }
  }
  for (size_t t = 0; t < NT; ++t) {
    acc[t][0] = OSSRT_X86(_mm512_fmadd_ps)(scaled[t][0], powers, acc[t][0]);
    acc[t][1] = OSSRT_X86(_mm512_fmadd_ps)(scaled[t][1], powers, acc[t][1]);
  }
}

// The tiles from row `first` (a tile's first) to `last` (a tile's end):
// output(r, sums) as rows() gives it.
template <size_t NT, size_t Digits, class Output>
OSSRT_Q8_TARGET void tile_rows(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t first, size_t last,
                               const Q8Vector* x, Output& output) {
  const Zint table = biased_twice_values();
  const size_t plane = count * kMxfp4BlockElements;
  for (size_t tile = first; tile < last; tile += kMxfp4TileRows) {
    Zfloat acc[NT][2];
    for (auto& chains : acc) chains[0] = chains[1] = OSSRT_X86(_mm512_setzero_ps)();
    const uint8_t* codes = blocks + tile * count * kMxfp4BlockBytes;
    const uint8_t* tile_scales = scales + tile * count;
    for (size_t b = 0; b < count; ++b) add_tile_block<NT, Digits>(codes, tile_scales, b, count, x, plane, table, acc);
    alignas(64) float rows_sums[NT][kMxfp4TileRows];
    for (size_t t = 0; t < NT; ++t) {
      OSSRT_X86(_mm512_store_ps)(rows_sums[t], OSSRT_X86(_mm512_add_ps)(acc[t][0], acc[t][1]));
    }
    for (size_t j = 0; j < kMxfp4TileRows; ++j) {
      float sums[NT];
      for (size_t t = 0; t < NT; ++t) sums[t] = rows_sums[t][j];
      output(tile + j, static_cast<const float*>(sums));
    }
  }
}

// Whole tile `tile` (its first row) of `count` blocks into plain rows at
// out_blocks / out_scales (row j of the tile at j * count * 16 / j * count):
// a block's 4 chunks are a 4 x 4 transpose of 4-byte pieces in each 128-bit
// lane (rows 4q .. 4q + 3 in lane q).
OSSRT_Q8_TARGET inline void untile_tile(const uint8_t* codes, const uint8_t* tile_scales, size_t count,
                                        uint8_t* out_blocks, uint8_t* out_scales) {
  for (size_t b = 0; b < count; ++b) {
    const uint8_t* block = codes + b * kMxfp4TileBlockBytes;
    const Zint c0 = Zmm::load(block), c1 = Zmm::load(block + 64), c2 = Zmm::load(block + 128),
               c3 = Zmm::load(block + 192);
    const Zint t0 = OSSRT_X86(_mm512_unpacklo_epi32)(c0, c1), t1 = OSSRT_X86(_mm512_unpackhi_epi32)(c0, c1);
    const Zint t2 = OSSRT_X86(_mm512_unpacklo_epi32)(c2, c3), t3 = OSSRT_X86(_mm512_unpackhi_epi32)(c2, c3);
    const Zint quads[4] = {OSSRT_X86(_mm512_unpacklo_epi64)(t0, t2), OSSRT_X86(_mm512_unpackhi_epi64)(t0, t2),
                           OSSRT_X86(_mm512_unpacklo_epi64)(t1, t3), OSSRT_X86(_mm512_unpackhi_epi64)(t1, t3)};
    uint8_t* row_block = out_blocks + b * kMxfp4BlockBytes;
    const size_t row_bytes = count * kMxfp4BlockBytes;
    for (size_t m = 0; m < 4; ++m) {
      OSSRT_X86(_mm_storeu_si128)
      (reinterpret_cast<Xint*>(row_block + m * row_bytes), OSSRT_X86(_mm512_extracti32x4_epi32)(quads[m], 0));
      OSSRT_X86(_mm_storeu_si128)
      (reinterpret_cast<Xint*>(row_block + (4 + m) * row_bytes), OSSRT_X86(_mm512_extracti32x4_epi32)(quads[m], 1));
      OSSRT_X86(_mm_storeu_si128)
      (reinterpret_cast<Xint*>(row_block + (8 + m) * row_bytes), OSSRT_X86(_mm512_extracti32x4_epi32)(quads[m], 2));
      OSSRT_X86(_mm_storeu_si128)
      (reinterpret_cast<Xint*>(row_block + (12 + m) * row_bytes), OSSRT_X86(_mm512_extracti32x4_epi32)(quads[m], 3));
    }
    const uint8_t* block_scales = tile_scales + b * kMxfp4TileRows;
    for (size_t j = 0; j < kMxfp4TileRows; ++j) out_scales[j * count + b] = block_scales[j];
  }
}

// pack_q15_tile's tile (mxfp4_q15_gemm.h) made straight from a whole tile
// (`codes` / `tile_scales`, `count` blocks a row), with no plain rows
// between: chunk c of a block holds code byte 4c + i of each of the 16 rows
// at byte 4j + i, and that byte is pair 4c + i of row j (the even element
// in the low nibble). The chunk's low and high nibbles become twice-values
// (vpshufb), one two-source byte permute per pair gathers the 16 rows' even
// and odd bytes in turn, and a sign extension makes them the pair's 16
// int16 pairs. Untiling the rows and then packing them took 21 % of a
// 512-token layer's experts, this 11 % (Emerald Rapids VM, 2 threads; the
// whole layer 305 -> 337 GFLOP/s).
static_assert(kQ15TileRows == kMxfp4TileRows, "an integer tile is one tile's rows");
OSSRT_Q8_TARGET inline void pack_q15_tile_from_tile(const uint8_t* codes, const uint8_t* tile_scales, size_t count,
                                                    int32_t* pairs, float* powers) {
  const Zint twice_values = OSSRT_X86(_mm512_broadcast_i32x4)(q15_gemm_detail::twice_value_table());
  const Zint nibble = OSSRT_X86(_mm512_set1_epi8)(0x0f);
  // Pair i of a chunk: byte 2j of the result from the low nibbles' byte 4j + i, byte 2j + 1 from the high ones'.
  Zint gather[4];
  for (size_t i = 0; i < 4; ++i) {
    alignas(64) uint8_t index[64] = {};
    for (size_t j = 0; j < kMxfp4TileRows; ++j) {
      index[2 * j] = static_cast<uint8_t>(4 * j + i);
      index[2 * j + 1] = static_cast<uint8_t>(64 + 4 * j + i);
    }
    gather[i] = Zmm::load(index);
  }
  for (size_t b = 0; b < count; ++b) {
    const uint8_t* block = codes + b * kMxfp4TileBlockBytes;
    for (size_t c = 0; c < kMxfp4TileChunks; ++c) {
      const Zint chunk = Zmm::load(block + 64 * c);
      const Zint even = OSSRT_X86(_mm512_shuffle_epi8)(twice_values, OSSRT_X86(_mm512_and_si512)(chunk, nibble));
      const Zint odd = OSSRT_X86(_mm512_shuffle_epi8)(
          twice_values, OSSRT_X86(_mm512_and_si512)(OSSRT_X86(_mm512_srli_epi16)(chunk, 4), nibble));
      for (size_t i = 0; i < 4; ++i) {
        const Zint bytes = OSSRT_X86(_mm512_permutex2var_epi8)(even, gather[i], odd);
        OSSRT_X86(_mm512_storeu_si512)
        (pairs + ((b * kBlockPairs) + 4 * c + i) * kQ15TileRows,
         OSSRT_X86(_mm512_cvtepi8_epi16)(OSSRT_X86(_mm512_castsi512_si256)(bytes)));
      }
    }
    for (size_t half = 0; half < kMxfp4TileRows; half += 8) {
      OSSRT_X86(_mm256_storeu_ps)
      (powers + b * kQ15TileRows + half, q15_detail::scale_powers(tile_scales + b * kMxfp4TileRows + half));
    }
  }
}

}  // namespace mxfp4_q8_detail

// output(r, sums) with sums[t] = the dot of row r (blocks + r * count * 16,
// scales + r * count: `count` blocks) with Q8 vector x[t] (all of the same
// digits), for rows [first, last) and nt (1 to 4) vectors. Only where
// mxfp4_q8_products().
template <class Output>
void mxfp4_q8_rows(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t first, size_t last,
                   const Q8Vector* x, size_t nt, Output output) {
  with_count<4>(nt, [&](auto vectors) {
    constexpr size_t kVectors = decltype(vectors)::value;
    if (x[0].digits == 3) return mxfp4_q8_detail::rows<kVectors, 3>(blocks, scales, count, first, last, x, output);
    mxfp4_q8_detail::rows<kVectors, 1>(blocks, scales, count, first, last, x, output);
  });
}

// mxfp4_q8_rows on a matrix of `rows` rows in tiles (mxfp4_tiles.h), for
// rows [first, last), both on tile boundaries (or `last` = rows): the whole tiles
// through tile_rows, the rows after them as mxfp4_q8_rows. A token's sums
// do not depend on the others in the call.
template <class Output>
void mxfp4_q8_tiles(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t rows, size_t first, size_t last,
                    const Q8Vector* x, size_t nt, Output output) {
  const size_t tiled_end = std::min(last, mxfp4_tiled_rows(rows));
  with_count<4>(nt, [&](auto vectors) {
    constexpr size_t kVectors = decltype(vectors)::value;
    if (first < tiled_end) {
      if (x[0].digits == 3) {
        mxfp4_q8_detail::tile_rows<kVectors, 3>(blocks, scales, count, first, tiled_end, x, output);
      } else {
        mxfp4_q8_detail::tile_rows<kVectors, 1>(blocks, scales, count, first, tiled_end, x, output);
      }
    }
    const size_t tail = std::max(first, tiled_end);
    if (tail >= last) return;
    if (x[0].digits == 3) return mxfp4_q8_detail::rows<kVectors, 3>(blocks, scales, count, tail, last, x, output);
    mxfp4_q8_detail::rows<kVectors, 1>(blocks, scales, count, tail, last, x, output);
  });
}

// untile_mxfp4_rows, whole tiles 64 bytes a load.
inline void mxfp4_untile_rows(const uint8_t* blocks, const uint8_t* scales, size_t rows, size_t count, size_t first,
                              size_t last, uint8_t* out_blocks, uint8_t* out_scales) {
  const size_t tiled = mxfp4_tiled_rows(rows);
  for (size_t r = first; r < last;) {
    if (r % kMxfp4TileRows == 0 && r + kMxfp4TileRows <= std::min(last, tiled)) {
      mxfp4_q8_detail::untile_tile(blocks + r * count * kMxfp4BlockBytes, scales + r * count, count,
                                   out_blocks + (r - first) * count * kMxfp4BlockBytes,
                                   out_scales + (r - first) * count);
      r += kMxfp4TileRows;
      continue;
    }
    untile_mxfp4_rows(blocks, scales, rows, count, r, r + 1, out_blocks + (r - first) * count * kMxfp4BlockBytes,
                      out_scales + (r - first) * count);
    ++r;
  }
}

// mxfp4_q15_rows_times_vectors (mxfp4_q15_gemm.h) on a matrix of `rows`
// rows in tiles, rows [first, last) with `first` on a tile boundary; output
// takes the rows' own indices. Whole tiles pack straight from their layout
// (pack_q15_tile_from_tile), the plain rows after them as pack_q15_tile.
template <class Vector, class Output>
void mxfp4_tiled_q15_rows_times_vectors(const uint8_t* blocks, const uint8_t* scales, size_t rows, size_t first,
                                        size_t last, size_t in, size_t n, Vector vector, int32_t* pairs, float* powers,
                                        Output output) {
  const size_t count = in / kMxfp4BlockElements, tiled_end = mxfp4_tiled_rows(rows);
  q15_tiles_times_vectors(
      first, last, in, n,
      [&](size_t r0, size_t tile_rows, int32_t* tile_pairs, float* tile_powers) {
        const uint8_t* tile_blocks = blocks + r0 * count * kMxfp4BlockBytes;
        const uint8_t* tile_scales = scales + r0 * count;
        if (r0 + kQ15TileRows <= tiled_end) {
          return mxfp4_q8_detail::pack_q15_tile_from_tile(tile_blocks, tile_scales, count, tile_pairs, tile_powers);
        }
        pack_q15_tile(tile_blocks, tile_scales, tile_rows, in, tile_pairs, tile_powers);
      },
      ask_next_mxfp4_rows(blocks, scales, count * kMxfp4BlockBytes, count),
      [&](size_t t) { return q15_values(vector(t)); }, pairs, powers, output);
}

#else

// Whether the CPU has AVX-VNNI's 256-bit vpdpbusd (the level's kernel file answers).
bool avx_vnni() noexcept;

// The AVX2 level's Q8 products, where the CPU has AVX-VNNI: 2 operations a
// pair of blocks and vector where its Q15 ones take 9, a decoded token's
// experts 21.9 -> 24-25 GB/s (Emerald Rapids VM). Without it, vpmaddubsw's
// 5 gave 22.4-23.9, too little to trade Q15's precision for (tiny-a's fast
// top-1 agreement, AVX2 level: Q15 732 of 735, Q8 717), so the Q15
// products stay there. Exact numerics take the Q24 ones on every CPU of the
// level: a decoded token's experts were bound by their fp32 products (whole
// model, 2 threads, Zen 5 VM: 18.4 GB/s, 69 GFLOP/s; with Q24 through
// AVX-VNNI 28.9 GB/s), and without AVX-VNNI Q24's digits through
// vpmaddubsw and vpmaddwd (BytePairs), the same lanes, still beat them
// (Zen 4 VM, AVX2 level, a decoded token's experts: one thread 10.6 ->
// 12.4 GB/s, two 19.8-21.1 -> 24.0-24.5; whole model, exact decode 78.2 ->
// 82.6 % of fast).
inline bool mxfp4_q8_products() noexcept {
  return avx_vnni();
}
inline bool mxfp4_q24_products() noexcept {
  return true;
}

#define OSSRT_AVX_VNNI_TARGET __attribute__((target("avx2,fma,f16c,avxvnni"), flatten))

namespace mxfp4_q8_ymm_detail {

using Int = OSSRT_X86(__m256i);
using Float = OSSRT_X86(__m256);

// How far ahead a row's stream asks for lines into L2, beside prefetch_ahead
// into L1. A decoded token's 4 experts from memory, 2 threads (Emerald
// Rapids VM, AVX-VNNI): none 21.9-23.1 GB/s, 8 KiB 24.4-25.5, 16 KiB
// 23.9-24.8, 32 KiB 23.3-23.8.
constexpr size_t kRowL2PrefetchBytes = 8192;

// A lane's 4 even and 4 odd products added to `lanes` by AVX-VNNI's
// vpdpbusd.
struct AvxVnni {
  OSSRT_AVX_VNNI_TARGET static Int dot(Int lanes, Int even, Int x_even, Int odd, Int x_odd) {
    return OSSRT_X86(_mm256_dpbusd_avx_epi32)(OSSRT_X86(_mm256_dpbusd_avx_epi32)(lanes, even, x_even), odd, x_odd);
  }
};

// The same lanes on plain AVX2: vpmaddubsw's 16-bit pair sums, even and odd
// added (within 2 * 2 * 24 * 128 = 12288: every digit is a signed byte),
// then vpmaddwd by ones into the int32 lanes.
struct BytePairs {
  static Int dot(Int lanes, Int even, Int x_even, Int odd, Int x_odd) {
    const Int pairs = OSSRT_X86(_mm256_add_epi16)(OSSRT_X86(_mm256_maddubs_epi16)(even, x_even),
                                                  OSSRT_X86(_mm256_maddubs_epi16)(odd, x_odd));
    return OSSRT_X86(_mm256_add_epi32)(lanes, OSSRT_X86(_mm256_madd_epi16)(pairs, OSSRT_X86(_mm256_set1_epi16)(1)));
  }
};

// The rows' dots with Q8 vectors (Digits 1) or Q24 ones (3), a pair of
// blocks a step: 32 code bytes give the pair's biased even and odd
// twice-values (vpshufb on each nibble), and int32 lane l sums the 8
// products of input lane l (lanes 0-3 the first block's, 4-7 the second's),
// each next digit's after a shift of the lanes by 8 bits, with its offset
// (as digit_lanes on the 512-bit level), then one conversion and FMA apply
// the lane's scale and its block's power. Steps alternate between two
// accumulators; a row's unpaired last block takes the low half of the
// registers. Against the Q15 products' 9 operations per pair and vector: 5
// with vpmaddubsw, 2 with vpdpbusd a digit (then 3 to scale both).
template <size_t NT, size_t Digits, class Dot, class Output>
inline void rows(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t first, size_t last,
                 const Q8Vector* x, Output& output) {
  const size_t plane = count * kMxfp4BlockElements;  // a row's inputs: the bytes of a digit plane
  const Int table = q15_detail::code_table(), nibble = OSSRT_X86(_mm256_set1_epi8)(0x0f);
  // Scale byte 0 of a pair to dwords 0-3, byte 1 to dwords 4-7 (as exponent bits after the shift).
  const Int spread_pair = OSSRT_X86(_mm256_setr_epi32)(static_cast<int>(0x80808000u), static_cast<int>(0x80808000u),
                                                       static_cast<int>(0x80808000u), static_cast<int>(0x80808000u),
                                                       static_cast<int>(0x80808001u), static_cast<int>(0x80808001u),
                                                       static_cast<int>(0x80808001u), static_cast<int>(0x80808001u));
  for (size_t r = first; r < last; ++r) {
    const uint8_t* row_blocks = blocks + r * count * kMxfp4BlockBytes;
    const uint8_t* row_scales = scales + r * count;
    Float acc[NT][2];
    for (size_t t = 0; t < NT; ++t) acc[t][0] = acc[t][1] = OSSRT_X86(_mm256_setzero_ps)();
    // Blocks b and b + 1 (codes `raw`, powers per lane; their inputs' even
    // bytes at even_at, odd ones at odd_at), or block b alone in the low
    // lanes (`lone`: its inputs loaded 16 bytes at a time, the high lanes
    // zero, their codes' 12s times zero inputs and power).
    const auto add = [&](size_t b, Int raw, Float powers, size_t even_at, size_t odd_at, size_t slot, bool lone) {
      const Int even = OSSRT_X86(_mm256_shuffle_epi8)(table, OSSRT_X86(_mm256_and_si256)(raw, nibble));
      const Int odd = OSSRT_X86(_mm256_shuffle_epi8)(
          table, OSSRT_X86(_mm256_and_si256)(OSSRT_X86(_mm256_srli_epi16)(raw, 4), nibble));
      const auto load = [lone](const void* p) {
        return lone ? OSSRT_X86(_mm256_zextsi128_si256)(
                          OSSRT_X86(_mm_loadu_si128)(static_cast<const OSSRT_X86(__m128i)*>(p)))
                    : q15_detail::load_int(p);
      };
      const size_t lane = b * kQ8LanesPerBlock;
      for (size_t t = 0; t < NT; ++t) {
        const Int offset = load(x[t].lane_offset + lane);
        Int lanes = Digits == 1 ? offset : OSSRT_X86(_mm256_setzero_si256)();
        for (size_t d = 0; d < Digits; ++d) {
          if (d > 0) lanes = OSSRT_X86(_mm256_slli_epi32)(lanes, 8);
          const uint8_t* digit = x[t].values + d * plane;
          lanes = Dot::dot(lanes, even, load(digit + even_at), odd, load(digit + odd_at));
        }
        if (Digits > 1) lanes = OSSRT_X86(_mm256_add_epi32)(lanes, offset);
        const Float lane_scales = OSSRT_X86(_mm256_castsi256_ps)(load(x[t].lane_scale + lane));
        acc[t][slot] = OSSRT_X86(_mm256_fmadd_ps)(OSSRT_X86(_mm256_cvtepi32_ps)(lanes),
                                                  OSSRT_X86(_mm256_mul_ps)(powers, lane_scales), acc[t][slot]);
      }
    };
    // Powers per lane for a pair whose scale bytes are at `pair` in `bytes` (a broadcast of 4).
    const auto pair_powers = [&](Int bytes, int pair) {
      const Int spread = OSSRT_X86(_mm256_add_epi32)(spread_pair, OSSRT_X86(_mm256_set1_epi32)(2 * pair));
      return OSSRT_X86(_mm256_castsi256_ps)(
          OSSRT_X86(_mm256_slli_epi32)(OSSRT_X86(_mm256_shuffle_epi8)(bytes, spread), 23));
    };
    // Whole 4-block groups: the inputs' even bytes of blocks g .. g + 3 at
    // 32 g, their odd ones 64 bytes on (Q8Vector's layout).
    const size_t full = count - count % 4;
    size_t b = 0;
    for (; b < full; b += 4) {
      prefetch_ahead(row_blocks + b * kMxfp4BlockBytes);
      prefetch_to_l2_at(row_blocks + b * kMxfp4BlockBytes + kRowL2PrefetchBytes);
      int32_t four;
      std::memcpy(&four, row_scales + b, sizeof four);
      const Int scale_bytes = OSSRT_X86(_mm256_set1_epi32)(four);
      const size_t at = b * kMxfp4BlockElements;
      add(b, q15_detail::load_int(row_blocks + b * kMxfp4BlockBytes), pair_powers(scale_bytes, 0), at, at + 64, 0,
          false);
      add(b + 2, q15_detail::load_int(row_blocks + (b + 2) * kMxfp4BlockBytes), pair_powers(scale_bytes, 1), at + 32,
          at + 96, 1, false);
    }
    if (b + 2 <= count) {  // a pair group: its even bytes, then its odd ones
      uint16_t two;
      std::memcpy(&two, row_scales + b, sizeof two);
      const size_t at = b * kMxfp4BlockElements;
      add(b, q15_detail::load_int(row_blocks + b * kMxfp4BlockBytes), pair_powers(OSSRT_X86(_mm256_set1_epi32)(two), 0),
          at, at + 32, 0, false);
      b += 2;
    }
    if (b < count) {
      const auto raw = OSSRT_X86(_mm_loadu_si128)(reinterpret_cast<const OSSRT_X86(__m128i)*>(row_blocks + b * 16));
      const Float powers = OSSRT_X86(_mm256_setr_m128)(OSSRT_X86(_mm_set1_ps)(q15_detail::scale_power(row_scales[b])),
                                                       OSSRT_X86(_mm_setzero_ps)());
      const size_t at = b * kMxfp4BlockElements;
      add(b, OSSRT_X86(_mm256_zextsi128_si256)(raw), powers, at, at + 16, 1, true);
    }
    float sums[NT];
    for (size_t t = 0; t < NT; ++t) sums[t] = Simd::sum256(OSSRT_X86(_mm256_add_ps)(acc[t][0], acc[t][1]));
    output(r, static_cast<const float*>(sums));
  }
}

// `rows` through AVX-VNNI, compiled for it (flatten: the loop and its
// dot products in one function of this target).
template <size_t NT, size_t Digits, class Output>
OSSRT_AVX_VNNI_TARGET void rows_avx_vnni(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t first,
                                         size_t last, const Q8Vector* x, Output& output) {
  rows<NT, Digits, AvxVnni>(blocks, scales, count, first, last, x, output);
}

// `rows` through BytePairs, for CPUs without AVX-VNNI.
template <size_t NT, size_t Digits, class Output>
__attribute__((flatten)) void rows_byte_pairs(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t first,
                                              size_t last, const Q8Vector* x, Output& output) {
  rows<NT, Digits, BytePairs>(blocks, scales, count, first, last, x, output);
}

}  // namespace mxfp4_q8_ymm_detail

// output(r, sums) as on the 512-bit level: Q8 vectors only where
// mxfp4_q8_products(), Q24 ones everywhere (through AVX-VNNI where the CPU
// has it).
template <class Output>
void mxfp4_q8_rows(const uint8_t* blocks, const uint8_t* scales, size_t count, size_t first, size_t last,
                   const Q8Vector* x, size_t nt, Output output) {
  with_count<4>(nt, [&](auto vectors) {
    constexpr size_t kVectors = decltype(vectors)::value;
    if (x[0].digits == 1) {
      return mxfp4_q8_ymm_detail::rows_avx_vnni<kVectors, 1>(blocks, scales, count, first, last, x, output);
    }
    if (avx_vnni()) {
      return mxfp4_q8_ymm_detail::rows_avx_vnni<kVectors, 3>(blocks, scales, count, first, last, x, output);
    }
    mxfp4_q8_ymm_detail::rows_byte_pairs<kVectors, 3>(blocks, scales, count, first, last, x, output);
  });
}

#endif

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
