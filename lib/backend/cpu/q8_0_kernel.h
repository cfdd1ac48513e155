// Q8_0 weights (backend.h: GGUF's dense layers, 32 int8 codes and an fp16
// scale d per block), ISA-generic (one instance per level, in its namespace).
//
// Decode (fewer than kPanelMinTokens tokens) reads every row once, at memory
// speed, through matmul_kernel.h's decode_rows: one token takes
// Simd::kGemvRows rows at a time, which share each load of x, while the next
// rows are prefetched; more tokens take a row at a time with up to four
// tokens sharing its decode. Exact numerics widen the codes to fp32,
// multiply them with x and scale each block's vector sum by d with one FMA.
// Numerics::fast quantizes x to Q15 blocks once per call (util/q15.h), as
// the reference does, and multiplies the codes sign-extended to int16 with
// vpmaddwd: each int32 lane sums its products exactly and is converted and
// scaled by d * (x scale) into fp32 vector accumulators, so there is no
// horizontal sum per block. (AVX512-VNNI's vpdpwssd only fuses an add into
// an int32 accumulator; with a scale per block there is none to add to, so
// it would replace vpmaddwd one for one.)
//
// Prefill: exact numerics dequantize rows to fp32 (d * q is exact) for
// matmul_kernel.h's panel product or oneDNN, so the products are the
// reference's; Numerics::fast multiplies 16-row int16 tiles
// (mxfp4_q15_gemm.h), each block's integer sum whole as in the reference.
// Include once per level's kernel file, after matmul_kernel.h and
// mxfp4_q15_gemm.h.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/cpu/kernel_util.h"
#include "backend/cpu/mxfp4_q15_gemm.h"
#include "backend/cpu/panel_gemm.h"
#include "util/aligned_vector.h"
#include "util/q15.h"
#include "util/thread_buffer.h"

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

namespace {

static_assert(kQ8_0BlockValues == kQ15BlockElements && kQ8_0BlockValues == kMxfp4BlockElements,
              "a Q8_0 block pairs with a Q15 block and fills a tile block");

constexpr size_t kQ8TileJobRows = 4 * kQ15TileRows;

constexpr size_t q8_row_bytes(size_t in) {
  return in / kQ8_0BlockValues * kQ8_0BlockBytes;
}

// dst[0, 32 * blocks) = the row's weights d * q (exact in fp32).
void widen_q8_row(const uint8_t* row, size_t blocks, float* dst) {
  constexpr size_t V = Simd::kQ8Vectors;
  for (size_t b = 0; b < blocks; ++b) {
    const uint8_t* block = row + b * kQ8_0BlockBytes;
    const Simd::Vec d = Simd::set1(Simd::load_f16(block));
    Simd::Vec q[V];
    Simd::load_q8(block + 2, q);
    for (size_t v = 0; v < V; ++v) Simd::store(dst + b * kQ8_0BlockValues + v * Simd::kLanes, Simd::mul(q[v], d));
  }
}

// The next R rows (a thread's rows are one range, which it takes R at a
// time), R blocks' bytes of them per block of these.
template <size_t R>
void prefetch_q8_rows(const uint8_t* rows, size_t row_bytes, size_t b) {
  prefetch_next_block(rows, R * row_bytes, b * R * kQ8_0BlockBytes, R * kQ8_0BlockBytes);
}

// sums[r][t] = dot(row r, x[t]) for R rows from `rows` (row_bytes apart)
// and NT tokens, in exact numerics: fp32 products of x and the codes, each
// block's vector sum scaled by its d.
template <size_t R, size_t NT>
void q8_dot(const uint8_t* rows, size_t row_bytes, size_t blocks, const float* const* x, float (&sums)[R][NT]) {
  constexpr size_t V = Simd::kQ8Vectors, L = Simd::kLanes;
  Simd::Vec acc[R][NT];
  for (auto& row : acc) {
    for (auto& a : row) a = Simd::zero();
  }
  for (size_t b = 0; b < blocks; ++b) {
    prefetch_q8_rows<R>(rows, row_bytes, b);
    for (size_t r = 0; r < R; ++r) {
      const uint8_t* block = rows + r * row_bytes + b * kQ8_0BlockBytes;
      Simd::Vec q[V];
      Simd::load_q8(block + 2, q);
      const Simd::Vec d = Simd::set1(Simd::load_f16(block));
      for (size_t t = 0; t < NT; ++t) {
        const float* xb = x[t] + b * kQ8_0BlockValues;
        Simd::Vec p = Simd::mul(q[0], Simd::load(xb));
        for (size_t v = 1; v < V; ++v) p = Simd::fmadd(q[v], Simd::load(xb + v * L), p);
        acc[r][t] = Simd::fmadd(p, d, acc[r][t]);
      }
    }
  }
  for (size_t r = 0; r < R; ++r) {
    for (size_t t = 0; t < NT; ++t) sums[r][t] = Simd::sum(acc[r][t]);
  }
}

// The same under Numerics::fast, with the tokens as Q15 blocks: each lane's
// integer products (exact) converted and scaled by d * (the x block's scale).
template <size_t R, size_t NT>
void q8_dot_q15(const uint8_t* rows, size_t row_bytes, size_t blocks, const Q15Values* x, float (&sums)[R][NT]) {
  Simd::Vec acc[R][NT];
  for (auto& row : acc) {
    for (auto& a : row) a = Simd::zero();
  }
  for (size_t b = 0; b < blocks; ++b) {
    prefetch_q8_rows<R>(rows, row_bytes, b);
    Simd::Words xw[NT];
    for (size_t t = 0; t < NT; ++t) xw[t] = Simd::load_words(x[t].values + b * kQ8_0BlockValues);
    for (size_t r = 0; r < R; ++r) {
      const uint8_t* block = rows + r * row_bytes + b * kQ8_0BlockBytes;
      const Simd::Words w = Simd::load_q8_words(block + 2);
      const float d = Simd::load_f16(block);
      for (size_t t = 0; t < NT; ++t) {
        acc[r][t] = Simd::fmadd(Simd::word_products(w, xw[t]), Simd::set1(d * x[t].scales[b]), acc[r][t]);
      }
    }
  }
  for (size_t r = 0; r < R; ++r) {
    for (size_t t = 0; t < NT; ++t) sums[r][t] = Simd::sum(acc[r][t]);
  }
}

// Every x row as Q15 blocks (util/q15.h), quantized once per call, in
// parallel for prefill (decode's few rows take microseconds: a parallel
// region of their own would cost more); built before any other parallel
// region (it allocates).
class Q15Rows {
 public:
  explicit Q15Rows(const MatmulArgs& a) : in_(a.in), codes_(a.n * a.in), scales_(a.n * a.in / kQ15BlockElements) {
    const size_t blocks = a.in / kQ15BlockElements;
    const long long total = static_cast<long long>(a.n * blocks);
#pragma omp parallel for schedule(static) if (a.n >= kPanelMinTokens)
    for (long long job = 0; job < total; ++job) {
      const size_t t = static_cast<size_t>(job) / blocks, b = static_cast<size_t>(job) % blocks;
      scales_[static_cast<size_t>(job)] = quantize_q15_block(a.x + t * a.x_stride + b * kQ15BlockElements,
                                                             codes_.data() + t * in_ + b * kQ15BlockElements);
    }
  }
  Q15Values row(size_t t) const {
    return Q15Values{codes_.data() + t * in_, scales_.data() + t * (in_ / kQ15BlockElements)};
  }

 private:
  size_t in_;
  CacheLineVector<int16_t> codes_;
  CacheLineVector<float> scales_;
};

// Prefill under Numerics::fast: jobs of kQ8TileJobRows rows, each through
// 16-row int16 tiles multiplied with every token.
void q8_prefill_q15(const MatmulArgs& a, const uint8_t* w, const Q15Rows& x) {
  const size_t row_bytes = q8_row_bytes(a.in);
  // Buffers first: nothing may throw inside a parallel region.
  PerThreadArray<int32_t> tile_pairs(q15_tile_pairs(a.in));
  PerThreadBuffer tile_powers(q15_tile_powers(a.in));
  const long long jobs = static_cast<long long>((a.out + kQ8TileJobRows - 1) / kQ8TileJobRows);
#pragma omp parallel for schedule(static)
  for (long long job = 0; job < jobs; ++job) {
    const size_t first = static_cast<size_t>(job) * kQ8TileJobRows, last = std::min(first + kQ8TileJobRows, a.out);
    const auto pack = [&](size_t r0, size_t count, int32_t* pairs, float* powers) {
      const uint8_t* tile = w + r0 * row_bytes;
      pack_q15_tile_with(
          count, a.in,
          [&](size_t r, size_t b, q15_gemm_detail::Int(&decoded)[2]) {
            const uint8_t* codes = tile + r * row_bytes + b * kQ8_0BlockBytes + 2;
            using Bytes = OSSRT_X86(__m128i);
            decoded[0] =
                OSSRT_X86(_mm256_cvtepi8_epi16)(OSSRT_X86(_mm_loadu_si128)(reinterpret_cast<const Bytes*>(codes)));
            decoded[1] =
                OSSRT_X86(_mm256_cvtepi8_epi16)(OSSRT_X86(_mm_loadu_si128)(reinterpret_cast<const Bytes*>(codes + 16)));
          },
          [&](size_t r, size_t b) { return Simd::load_f16(tile + r * row_bytes + b * kQ8_0BlockBytes); }, pairs,
          powers);
    };
    const auto ask_next = [&](size_t r0, size_t part, size_t parts) {
      prefetch_share_to_l2(w + r0 * row_bytes, kQ15TileRows * row_bytes, part, parts);
    };
    q15_tiles_times_vectors(
        first, last, a.in, a.n, pack, ask_next, [&](size_t t) { return x.row(t); }, tile_pairs.mine(),
        tile_powers.mine(), [&](size_t t, size_t r, float sum) { store_output(a, t, r, sum); });
  }
}

}  // namespace

void embedding_q8_0_f32(void*, const uint8_t* table, size_t dim, const int32_t* ids, size_t n, float* out) {
  const size_t blocks = dim / kQ8_0BlockValues;
  for (size_t t = 0; t < n; ++t) {
    widen_q8_row(table + static_cast<size_t>(ids[t]) * q8_row_bytes(dim), blocks, out + t * dim);
  }
}

void matmul_f32_q8_0w(void*, const MatmulArgs& a, const uint8_t* w) {
  const size_t blocks = a.in / kQ8_0BlockValues, row_bytes = q8_row_bytes(a.in);
  if (!a.bf16_products) {
    if (a.n >= kPanelMinTokens) {
      return matmul_widened(a, [&](size_t r, float* dst) { widen_q8_row(w + r * row_bytes, blocks, dst); });
    }
    return decode_rows(a, [&]<size_t R, size_t NT>(size_t o, size_t t0, float(&sums)[R][NT]) {
      const float* x[NT];
      for (size_t t = 0; t < NT; ++t) x[t] = a.x + (t0 + t) * a.x_stride;
      q8_dot<R, NT>(w + o * row_bytes, row_bytes, blocks, x, sums);
    });
  }
  const Q15Rows x(a);
  if (a.n >= kPanelMinTokens) return q8_prefill_q15(a, w, x);
  decode_rows(a, [&]<size_t R, size_t NT>(size_t o, size_t t0, float(&sums)[R][NT]) {
    Q15Values rows_x[NT];
    for (size_t t = 0; t < NT; ++t) rows_x[t] = x.row(t0 + t);
    q8_dot_q15<R, NT>(w + o * row_bytes, row_bytes, blocks, rows_x, sums);
  });
}

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
