// Attention, ISA-generic (one instance per level, in its namespace), written
// in the level's Simd operations and its attention helpers (the end of
// simd_avx2.h, simd_avx512.h). A single query token (decode) splits its keys
// over the threads (SplitDecode below). Several tokens (prefill) go flash
// style: one job per (query token, kv head) handles the kv head's whole group
// of query heads, so each key and value row is read once per group, from
// memory once and then from L1. Keys are taken in blocks: the block's scores,
// then one online-softmax update per head (a vector exp over the block), then
// the weighted values. The sink seeds each head's running max and denominator
// exactly as in the reference; no score matrix beyond one block is ever held.
// Include once per level's kernel file, inside its target region, after
// kernel_util.h.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/exp_lanes.h"
#include "backend/cpu/transpose8x8.h"
#include "util/numeric.h"
#include "util/thread_buffer.h"

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

namespace attention {

namespace {

using Vec = Simd::Vec;
constexpr size_t kLanes = Simd::kLanes;

constexpr size_t kKeyBlock = 32;  // keys per softmax update (prefill)
// Query heads per kv head the vector path takes: per-head state lives in
// arrays of this size on the stack (gpt-oss has 8).
constexpr size_t kMaxGroup = 64;

// Cache elements as fp32: read in place from an fp32 cache, widened in
// registers from a bf16 one (exact: bf16 is the top half of fp32), so decode
// reads either cache directly instead of copying it to fp32 first.
inline Vec load_row(const float* p) {
  return Simd::load(p);
}
inline Vec load_row(const bf16_t* p) {
  return Simd::load_bf16(p);
}

// scale * dot(q, k[j]) for eight keys at once (eight independent FMA chains);
// d % kLanes == 0.
template <typename T>
inline void dot8(const float* q, const T* const* k, size_t d, float scale, float* out) {
  Vec acc[8];
  for (Vec& a : acc) a = Simd::zero();
  for (size_t i = 0; i < d; i += kLanes) {
    const Vec qv = Simd::load(q + i);
    for (size_t j = 0; j < 8; ++j) acc[j] = Simd::fmadd(qv, load_row(k[j] + i), acc[j]);
  }
  store_key_sums(acc, scale, out);
}

// Eight keys' scores for eight query heads that share them (GQA) without a
// horizontal sum per score: each step broadcasts kScoreStep key elements
// against the heads' queries for them (query_steps, 8 kScoreStep floats a
// step in the level's query_step_lane order) into the key's kScoreParts
// accumulators, and store_head_scores leaves head h's scores for the keys in
// row h of `out` (rows `stride` apart).
template <typename T>
inline void scores8x8(const float* query_steps, const T* const* k, size_t d, float scale, float* out, size_t stride) {
  Vec acc[8][kScoreParts];
  for (auto& key : acc) {
    for (Vec& a : key) a = Simd::zero();
  }
  for (size_t i = 0; i < d; i += kScoreStep) {  // d % kLanes == 0
    const float* queries = query_steps + 8 * i;
    for (size_t j = 0; j < 8; ++j) fmadd_key_step(k[j] + i, queries, acc[j]);
  }
  store_head_scores(acc, scale, out, stride);
}

#if defined(OSSRT_CPU_Q15_ZMM)
// scores8x8 in bf16 products (AttentionArgs::bf16_products, a bf16 cache, a
// CPU with AVX512-BF16): eight query heads rounded to bf16 against eight
// keys. A step broadcasts 4 key elements (64 bits) against 32 query values
// (query_pairs, 8 * kBf16ScoreStep a step: head l's elements i .. i + 3 at
// 4 l), so one vdpbf16ps does 32 products where the fp32 step's two FMAs do
// 32 after a widening; lanes 2 l and 2 l + 1 hold head l's two halves.
// Decode at depth 8192 (64 heads over 8 kv heads, 2 threads, Zen 4, the two
// alternating in one process): 0.89 against 1.00 ms with the fp32 steps.
constexpr size_t kBf16ScoreStep = 4;

OSSRT_BF16_DOT_TARGET void scores8x8_bf16(const bf16_t* query_pairs, const bf16_t* const* k, size_t d, float scale,
                                          float* out, size_t stride) {
  OSSRT_X86(__m512) acc[8];
  for (auto& a : acc) a = OSSRT_X86(_mm512_setzero_ps)();
  for (size_t i = 0; i < d; i += kBf16ScoreStep) {  // d % kBf16ScoreStep == 0
    const OSSRT_X86(__m512bh) queries = load_bf16_pairs(query_pairs + 8 * i);
    for (size_t j = 0; j < 8; ++j) {
      long long bits;
      std::memcpy(&bits, k[j] + i, sizeof bits);
      OSSRT_X86(__m512bh) key;
      const OSSRT_X86(__m512i) broadcast = OSSRT_X86(_mm512_set1_epi64)(bits);
      std::memcpy(&key, &broadcast, sizeof key);
      acc[j] = OSSRT_X86(_mm512_dpbf16_ps)(acc[j], key, queries);
    }
  }
  // Keys j and j + 1 side by side, head l's halves summed: lane l key j's, 8 + l key j + 1's.
  const OSSRT_X86(__m512i) even =
      OSSRT_X86(_mm512_setr_epi32)(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const OSSRT_X86(__m512i) odd =
      OSSRT_X86(_mm512_setr_epi32)(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  const Vec s = Simd::set1(scale);
  OSSRT_X86(__m256) rows[8];  // row j: key j's scores of the 8 heads, then transposed
  for (size_t j = 0; j < 8; j += 2) {
    const Vec pair = Simd::mul(Simd::add(OSSRT_X86(_mm512_permutex2var_ps)(acc[j], even, acc[j + 1]),
                                         OSSRT_X86(_mm512_permutex2var_ps)(acc[j], odd, acc[j + 1])),
                               s);
    rows[j] = OSSRT_X86(_mm512_castps512_ps256)(pair);
    rows[j + 1] = OSSRT_X86(_mm256_castpd_ps)(OSSRT_X86(_mm512_extractf64x4_pd)(OSSRT_X86(_mm512_castps_pd)(pair), 1));
  }
  transpose8x8(rows);
  for (size_t h = 0; h < 8; ++h) OSSRT_X86(_mm256_storeu_ps)(out + h * stride, rows[h]);
}
#endif

template <typename T>
inline float dot1(const float* q, const T* k, size_t d) {
  Vec a = Simd::zero();
  for (size_t i = 0; i < d; i += kLanes) a = Simd::fmadd(Simd::load(q + i), load_row(k + i), a);
  return Simd::sum(a);
}

// max(start, s[0..count)), a vector at a time: a scalar scan is one 3-cycle
// dependency chain per score and cost as much as the dot products.
float max_value(const float* s, size_t count, float start) {
  Vec lanes = Simd::set1(start);
  size_t j = 0;
  for (; j + kLanes <= count; j += kLanes) lanes = Simd::max(lanes, Simd::load(s + j));
  float m = Simd::max_lane(lanes);
  for (; j < count; ++j) m = std::max(m, s[j]);
  return m;
}

// s[j] = e^(s[j] - shift) for j < count (softmax numerators); returns their sum.
float exponentiate(float* s, size_t count, float shift) {
  const Vec shift_lanes = Simd::set1(shift);
  Vec total_lanes = Simd::zero();
  size_t j = 0;
  for (; j + kLanes <= count; j += kLanes) {
    const Vec p = exp_lanes(Simd::sub(Simd::load(s + j), shift_lanes));
    Simd::store(s + j, p);
    total_lanes = Simd::add(total_lanes, p);
  }
  float total = Simd::sum(total_lanes);
  for (; j < count; ++j) {
    s[j] = std::exp(s[j] - shift);
    total += s[j];
  }
  return total;
}

// For NH heads h (rows out_stride apart in out, p_stride in p): out_h[0, NV
// vectors) = out_h * rescale_h + sum_j p_h[j] v[j][column, column + NV
// vectors). The rows stay in registers, one FMA chain per head and vector;
// the heads share each value load (one load per FMA would leave the loads,
// not the FMAs, the limit).
template <size_t NH, size_t NV, typename T>
void accumulate_values(float* out, size_t out_stride, const float* rescale, const float* p, size_t p_stride,
                       const T* const* v, size_t count, size_t column) {
  Vec o[NH][NV];
  for (size_t h = 0; h < NH; ++h) {
    const Vec r = Simd::set1(rescale[h]);
    for (size_t i = 0; i < NV; ++i) o[h][i] = Simd::mul(Simd::load(out + h * out_stride + kLanes * i), r);
  }
  for (size_t j = 0; j < count; ++j) {
    Vec weight[NH];
    for (size_t h = 0; h < NH; ++h) weight[h] = Simd::set1(p[h * p_stride + j]);
    for (size_t i = 0; i < NV; ++i) {
      const Vec value = load_row(v[j] + column + kLanes * i);
      for (size_t h = 0; h < NH; ++h) o[h][i] = Simd::fmadd(weight[h], value, o[h][i]);
    }
  }
  for (size_t h = 0; h < NH; ++h) {
    for (size_t i = 0; i < NV; ++i) Simd::store(out + h * out_stride + kLanes * i, o[h][i]);
  }
}

// accumulate_values over heads [h, heads) of d columns: tiles of NH heads by
// the vectors the level's accumulators allow (Simd::kValueTileAccumulators),
// then of NH / 2 heads by twice the vectors, down to a last single head.
// Head h's row is out + h * d, its weights p + h * p_stride.
template <size_t NH, typename T>
void accumulate_head_tiles(float* out, size_t h, size_t heads, size_t d, const float* rescale, const float* p,
                           size_t p_stride, const T* const* v, size_t count) {
  constexpr size_t kVectors = Simd::kValueTileAccumulators / NH;
  for (; h + NH <= heads; h += NH) {
    for (size_t column = 0; column < d; column += kVectors * kLanes) {
      with_count<kVectors>((d - column) / kLanes, [&](auto vectors) {
        accumulate_values<NH, vectors>(out + h * d + column, d, rescale + h, p + h * p_stride, p_stride, v, count,
                                       column);
      });
    }
  }
  if constexpr (NH > 1) accumulate_head_tiles<NH / 2>(out, h, heads, d, rescale, p, p_stride, v, count);
}

template <typename T>
void accumulate_rows(float* out, size_t heads, size_t d, const float* rescale, const float* p, size_t p_stride,
                     const T* const* v, size_t count) {
  accumulate_head_tiles<Simd::kValueTileHeads>(out, 0, heads, d, rescale, p, p_stride, v, count);
}

// count cache elements from element `index` on, as fp32.
void widen_cache(const void* cache, KvType type, size_t index, size_t count, float* out) {
  if (type == KvType::f32) {
    std::memcpy(out, static_cast<const float*>(cache) + index, count * sizeof(float));
  } else {
    widen_bf16(static_cast<const bf16_t*>(cache) + index, count, out);
  }
}

struct HeadState {
  float max, denominator;
};

// One query token against one kv head's visible keys, for its `group` heads.
void attend_group(const AttentionArgs& a, size_t t, size_t kv_head, float* scores, float* acc, float* rows) {
  const size_t D = a.head_dim, group = a.q_heads / a.kv_heads, kv_width = a.kv_heads * D;
  const size_t position = a.first_position + t;
  const size_t first_key = first_visible_key(position, a.window);
  const float* q = a.q + t * a.q_stride + kv_head * group * D;
  HeadState state[kMaxGroup];
  for (size_t h = 0; h < group; ++h) state[h] = {bf16_to_f32(a.sinks[kv_head * group + h]), 1.0f};
  std::fill(acc, acc + group * D, 0.0f);
  const float* keys[kKeyBlock];
  const float* values[kKeyBlock];
  for (size_t j = 0; j < kKeyBlock; ++j) {
    keys[j] = rows + j * D;
    values[j] = rows + (kKeyBlock + j) * D;
  }
  for (size_t block = first_key; block <= position; block += kKeyBlock) {
    const size_t count = std::min(kKeyBlock, position + 1 - block);
    // Cache rows are kv_width apart, a power-of-two stride that maps them onto
    // a few cache sets: copied together once, every head of the group then
    // reads them from L1.
    for (size_t j = 0; j < count; ++j) {
      const size_t first = kv_slot(block + j, a.capacity, a.ring) * kv_width + kv_head * D;
      widen_cache(a.k_cache, a.kv_type, first, D, rows + j * D);
      widen_cache(a.v_cache, a.kv_type, first, D, rows + (kKeyBlock + j) * D);
    }
    float rescale[kMaxGroup];
    for (size_t h = 0; h < group; ++h) {
      const float* qh = q + h * D;
      float* s = scores + h * kKeyBlock;
      size_t j = 0;
      for (; j + 8 <= count; j += 8) dot8(qh, keys + j, D, a.scale, s + j);
      for (; j < count; ++j) s[j] = dot1(qh, keys[j], D) * a.scale;
      // Online softmax update over the block.
      const float block_max = max_value(s, count, state[h].max);
      rescale[h] = std::exp(state[h].max - block_max);
      state[h].max = block_max;
      state[h].denominator = state[h].denominator * rescale[h] + exponentiate(s, count, block_max);
    }
    accumulate_rows(acc, group, D, rescale, scores, kKeyBlock, values, count);
  }
  float* out = a.out + t * a.out_stride + kv_head * group * D;
  for (size_t h = 0; h < group; ++h) {
    const Vec inverse = Simd::set1(1.0f / state[h].denominator);
    for (size_t i = 0; i < D; i += kLanes)
      Simd::store(out + h * D + i, Simd::mul(Simd::load(acc + h * D + i), inverse));
  }
}

// One query token (decode) in two passes per chunk of keys, the chunks in
// parallel (split-K): the chunk's scores for every head from whole cache rows
// read in order, the exact chunk softmax, then the values; the chunks'
// (max, denominator, weighted sum) merge with the sink at the end. Each cache
// row is read from memory once, sequentially, whatever the head count, and in
// place: a bf16 cache is widened in registers. Batched rows (each its own
// cache and position) take one SplitDecode each, their chunks in one
// parallel loop (decode_queries).
class SplitDecode {
 public:
  static constexpr size_t kMaxChunk = 1024;  // keys per chunk: [heads][chunk] scores stay in L2
  static constexpr size_t kMinChunk = 64;    // below this the merge outweighs the split
  // Floats between heads' score rows past the chunk: rows a power of two
  // apart (1024 keys: 4 KiB) fall into one L1 set, and the score pass writes
  // a line of every head's row per block of keys (depth 8192, 2 threads,
  // Zen 4: fp32 cache 23-26 -> 27-30 GB/s, bf16 0.95-0.99 -> 0.81-0.85 ms).
  static constexpr size_t kScorePad = 16;

  // Query t of `a` over a's cache; with `threads` threads the keys split so
  // each has a chunk (short contexts, and the sliding window's 128 keys, use
  // every thread too).
  SplitDecode(const AttentionArgs& a, size_t t, size_t threads) : a_(a), t_(t) {
    const size_t position = a.first_position + t;
    first_ = first_visible_key(position, a.window);
    keys_ = position + 1 - first_;
    // A multiple of kValueRows.
    const size_t share = (keys_ + threads - 1) / threads;
    chunk_ = std::clamp((share + kValueRows - 1) / kValueRows * kValueRows, kMinChunk, kMaxChunk);
    chunks_ = (keys_ + chunk_ - 1) / chunk_;
    score_stride_ = chunk_ + kScorePad;
    max_.resize(chunks_ * a.q_heads);
    sum_.resize(chunks_ * a.q_heads);
    acc_.resize(chunks_ * a.q_heads * a.head_dim);
    // Each run of eight heads of a group with its elements in steps for
    // scores8x8: element i + e of head h0 + l at [h0 * D + 8 i +
    // query_step_lane(l, e)], i a multiple of kScoreStep, e < kScoreStep.
    const size_t group = a.q_heads / a.kv_heads;
    const float* q = a.q + t * a.q_stride;
#if defined(OSSRT_CPU_Q15_ZMM)
    if (a.bf16_products && a.kv_type == KvType::bf16 && group % 8 == 0 && bf16_dot()) {
      // Head h0 + l's elements i .. i + 3 at [h0 * D + 8 i + 4 l] (scores8x8_bf16), rounded once.
      query_pairs_.resize(a.q_heads * a.head_dim);
      for (size_t h = 0; h < a.q_heads; ++h) {
        for (size_t i = 0; i < a.head_dim; ++i) {
          query_pairs_[(h - h % 8) * a.head_dim + 8 * (i - i % kBf16ScoreStep) + kBf16ScoreStep * (h % 8) +
                       i % kBf16ScoreStep] = f32_to_bf16(q[h * a.head_dim + i]);
        }
      }
      zero_key_.assign(a.head_dim, 0);
      return;
    }
#endif
    query_steps_.resize(a.q_heads * a.head_dim);
    for (size_t kv = 0; kv < a.kv_heads; ++kv) {
      for (size_t h0 = kv * group; h0 + 8 <= (kv + 1) * group; h0 += 8) {
        for (size_t i = 0; i < a.head_dim; ++i) {
          for (size_t l = 0; l < 8; ++l) {
            query_steps_[h0 * a.head_dim + 8 * (i - i % kScoreStep) + query_step_lane(l, i % kScoreStep)] =
                q[(h0 + l) * a.head_dim + i];
          }
        }
      }
    }
  }

  size_t chunks() const {
    return chunks_;
  }
  size_t scores_floats() const {
    return a_.q_heads * score_stride_;
  }

  // Chunk c's scores into `scores` (scores_floats()), its softmax state and
  // weighted values; any thread, each chunk once, before merge().
  void chunk(size_t c, float* scores) {
    if (a_.kv_type == KvType::f32) {
      chunk_over<float>(c, scores);
    } else {
      chunk_over<bf16_t>(c, scores);
    }
  }

  // out[h] = (sum_c acc_c[h] e^(m_c - M)) / (e^(sink - M) + sum_c l_c e^(m_c - M)).
  void merge() {
    const size_t D = a_.head_dim;
    float* out = a_.out + t_ * a_.out_stride;
    for (size_t h = 0; h < a_.q_heads; ++h) {
      const float sink = bf16_to_f32(a_.sinks[h]);
      float m = sink;
      for (size_t c = 0; c < chunks_; ++c) m = std::max(m, max_[c * a_.q_heads + h]);
      float denominator = std::exp(sink - m);
      std::fill(out + h * D, out + (h + 1) * D, 0.0f);
      for (size_t c = 0; c < chunks_; ++c) {
        const float weight = std::exp(max_[c * a_.q_heads + h] - m);
        denominator += weight * sum_[c * a_.q_heads + h];
        const float* acc = acc_.data() + (c * a_.q_heads + h) * D;
        for (size_t i = 0; i < D; ++i) out[h * D + i] += weight * acc[i];
      }
      for (size_t i = 0; i < D; ++i) out[h * D + i] /= denominator;
    }
  }

 private:
  static constexpr size_t kRows = 8;  // key rows taken together (scores8x8)
  // Value rows taken together: each head's accumulate runs over this many
  // rows per call (8 left the call overhead at a third of the pass).
  static constexpr size_t kValueRows = 32;

  // Rows [from, from + rows) of the chunk's keys (of `cache`), those of them
  // that the kv head `kv` of a pass over kRows-row blocks takes (every
  // kv_heads-th row), asked for a block ahead: the cache rows are read
  // interleaved by kv head, which the hardware prefetcher alone left at about
  // 10 GB/s on one Zen 4 core. Into L2: a block of value rows is 32 KiB,
  // the L1 could not hold it beside the block being read.
  template <typename T>
  void prefetch_block_rows(const void* cache, size_t from, size_t rows, size_t kv) const {
    const size_t row_bytes = a_.kv_heads * a_.head_dim * sizeof(T);
    for (size_t r = kv; r < rows && from + r < first_ + keys_; r += a_.kv_heads) {
      prefetch_lines_to_l2(row<T>(cache, from + r), row_bytes);
    }
  }

  // The cache row of `position`, elements of type T.
  template <typename T>
  const T* row(const void* cache, size_t position) const {
    return static_cast<const T*>(cache) + kv_slot(position, a_.capacity, a_.ring) * a_.kv_heads * a_.head_dim;
  }

  // The chunk's keys [begin, begin + count) of the key cache in blocks of
  // kRows, for each kv head body(first, kv, rows): rows[r] that kv head's
  // part of key first + r. With `pad` the last block is filled up with it
  // and every key is taken; without, only whole blocks. Returns the keys
  // taken. (Row addresses once per block: a ring's slot is a division.)
  template <typename T, class Body>
  size_t key_blocks(size_t begin, size_t count, const T* pad, Body body) const {
    const T* whole_rows[kRows];
    const T* rows[kRows];
    size_t j = 0;
    for (; pad != nullptr ? j < count : j + kRows <= count; j += kRows) {
      for (size_t r = 0; r < kRows; ++r) whole_rows[r] = j + r < count ? row<T>(a_.k_cache, begin + j + r) : nullptr;
      for (size_t kv = 0; kv < a_.kv_heads; ++kv) {
        prefetch_block_rows<T>(a_.k_cache, begin + j + kRows, kRows, kv);
        for (size_t r = 0; r < kRows; ++r) rows[r] = whole_rows[r] ? whole_rows[r] + kv * a_.head_dim : pad;
        body(j, kv, rows);
      }
    }
    return j;
  }

  template <typename T>
  void chunk_over(size_t c, float* scores) {
    const size_t D = a_.head_dim, group = a_.q_heads / a_.kv_heads;
    const size_t begin = first_ + c * chunk_, count = std::min(chunk_, keys_ - c * chunk_);
    const float* q = a_.q + t_ * a_.q_stride;
    // Pass 1: scores[h][j], kRows keys at a time.
    size_t j = 0;
    bool scored = false;
#if defined(OSSRT_CPU_Q15_ZMM)
    if constexpr (std::is_same_v<T, bf16_t>) {
      if (!query_pairs_.empty()) {
        // The last block padded with zero keys (their scores, past count, are
        // not read): every score takes the same rounded queries.
        j = key_blocks<T>(begin, count, zero_key_.data(), [&](size_t first, size_t kv, const T* const* rows) {
          for (size_t h = kv * group; h < (kv + 1) * group; h += 8)
            scores8x8_bf16(query_pairs_.data() + h * D, rows, D, a_.scale, scores + h * score_stride_ + first,
                           score_stride_);
        });
        scored = true;
      }
    }
#endif
    if (!scored) {
      j = key_blocks<T>(begin, count, nullptr, [&](size_t first, size_t kv, const T* const* rows) {
        size_t h = kv * group;
        for (; h + 8 <= (kv + 1) * group; h += 8)
          scores8x8(query_steps_.data() + h * D, rows, D, a_.scale, scores + h * score_stride_ + first, score_stride_);
        for (; h < (kv + 1) * group; ++h) dot8(q + h * D, rows, D, a_.scale, scores + h * score_stride_ + first);
      });
    }
    for (; j < count; ++j) {
      const T* key = row<T>(a_.k_cache, begin + j);
      for (size_t h = 0; h < a_.q_heads; ++h)
        scores[h * score_stride_ + j] = dot1(q + h * D, key + h / group * D, D) * a_.scale;
    }
    // The chunk's softmax numerators, per head.
    for (size_t h = 0; h < a_.q_heads; ++h) {
      float* s = scores + h * score_stride_;
      const float m = max_value(s, count, s[0]);
      max_[c * a_.q_heads + h] = m;
      sum_[c * a_.q_heads + h] = exponentiate(s, count, m);
    }
    // Pass 2: acc[h] = sum_j p[h][j] v[j], value rows in order, in blocks
    // whose slices stay in L1 while a kv head's group of heads takes them.
    float* acc = acc_.data() + c * a_.q_heads * D;
    const T* whole_rows[kValueRows];
    const T* rows[kValueRows];
    float ones[kMaxGroup];  // no rescale: the chunk's softmax is exact
    std::fill(ones, ones + group, 1.0f);
    std::fill(acc, acc + a_.q_heads * D, 0.0f);
    for (size_t r0 = 0; r0 < count; r0 += kValueRows) {
      const size_t n = std::min(kValueRows, count - r0);
      for (size_t r = 0; r < n; ++r) whole_rows[r] = row<T>(a_.v_cache, begin + r0 + r);
      for (size_t kv = 0; kv < a_.kv_heads; ++kv) {
        prefetch_block_rows<T>(a_.v_cache, begin + r0 + kValueRows,
                               std::min(kValueRows, count - std::min(count, r0 + kValueRows)), kv);
        for (size_t r = 0; r < n; ++r) rows[r] = whole_rows[r] + kv * D;
        accumulate_rows(acc + kv * group * D, group, D, ones, scores + kv * group * score_stride_ + r0, score_stride_,
                        rows, n);
      }
    }
  }

  AttentionArgs a_;  // a copy: decode_queries makes one per row
  size_t t_, first_ = 0, keys_ = 0, chunk_ = 0, chunks_ = 0, score_stride_ = 0;
  std::vector<float> max_, sum_, acc_;  // [chunk][head], [chunk][head], [chunk][head][D]
  std::vector<float> query_steps_;      // see the constructor
  std::vector<bf16_t> query_pairs_;     // bf16 products: see the constructor
  std::vector<bf16_t> zero_key_;        // a key of zeros padding the last block (bf16 products)
};

// Row t of a batched step as a single-query call over its own cache.
AttentionArgs row_args(const AttentionArgs& a, size_t t) {
  const KvRow& row = a.rows[t];
  AttentionArgs one = a;
  one.q = a.q + t * a.q_stride;
  one.out = a.out + t * a.out_stride;
  one.k_cache = row.k_cache;
  one.v_cache = row.v_cache;
  one.capacity = row.capacity;
  one.ring = row.ring;
  one.n = 1;
  one.first_position = row.position;
  one.rows = nullptr;
  return one;
}

// Decode queries, each a SplitDecode (one per row of a batched step, or the
// single query of a decode call), every row's chunks in one parallel loop:
// rows share the threads instead of running one after another. A row's
// chunks are those it would have alone, so its sums do not depend on the
// rows beside it (a session decodes alike alone and in a batch).
void decode_queries(const AttentionArgs& a) {
  const size_t threads = static_cast<size_t>(std::max(1, omp_get_max_threads()));
  std::vector<SplitDecode> queries;
  queries.reserve(a.n);
  // Jobs: (query, chunk) pairs, in query order.
  std::vector<std::pair<size_t, size_t>> jobs;
  size_t scores_floats = 0;
  for (size_t t = 0; t < a.n; ++t) {
    queries.emplace_back(a.rows ? row_args(a, t) : a, a.rows ? 0 : t, threads);
    scores_floats = std::max(scores_floats, queries.back().scores_floats());
    for (size_t c = 0; c < queries.back().chunks(); ++c) jobs.emplace_back(t, c);
  }
  PerThreadBuffer buffers(scores_floats);
  const long long job_count = static_cast<long long>(jobs.size());
#pragma omp parallel for schedule(dynamic, 1)
  for (long long job = 0; job < job_count; ++job) {
    const auto [t, c] = jobs[static_cast<size_t>(job)];
    queries[t].chunk(c, buffers.mine());
  }
  const long long query_count = static_cast<long long>(queries.size());
#pragma omp parallel for schedule(static)
  for (long long t = 0; t < query_count; ++t) queries[static_cast<size_t>(t)].merge();
}

// Prefill: a job per (query token, kv head).
void prefill(const AttentionArgs& a) {
  const size_t group = a.q_heads / a.kv_heads;
  const long long jobs = static_cast<long long>(a.n * a.kv_heads);
  const size_t scores_size = group * kKeyBlock, acc_size = group * a.head_dim, rows_size = 2 * kKeyBlock * a.head_dim;
  PerThreadBuffer buffers(scores_size + acc_size + rows_size);
#pragma omp parallel for schedule(dynamic, 1)
  for (long long job = 0; job < jobs; ++job) {
    float* scores = buffers.mine();
    attend_group(a, static_cast<size_t>(job) / a.kv_heads, static_cast<size_t>(job) % a.kv_heads, scores,
                 scores + scores_size, scores + scores_size + acc_size);
  }
}

}  // namespace

// Whether this level's vector path takes the shape: head_dim a multiple of
// the lanes, at most kMaxGroup query heads per kv head.
inline bool shape_fits(const AttentionArgs& a) {
  return a.head_dim % kLanes == 0 && a.q_heads / a.kv_heads <= kMaxGroup;
}

// attention_f32 for a shape that fits: decode (one token, or batched rows of
// one token each) split over the keys, prefill flash style.
inline void run(const AttentionArgs& a) {
  if (a.n == 1 || a.rows != nullptr) return decode_queries(a);
  prefill(a);
}

}  // namespace attention

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
