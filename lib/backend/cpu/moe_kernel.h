// MXFP4 mixture of experts, ISA-generic (one instance per level, in its
// namespace). FP4 codes become floats through the level's table lookups, in
// the level's element order, with the E8M0 scales applied as the level does
// it cheapest (Simd::mxfp4_block_dot, widen_mxfp4_block), and the work is
// grouped by expert so an expert's rows are decoded once per call
// however many tokens chose it, and spread over rows so a single token's 4
// experts still use every thread (decode). Experts chosen by many tokens
// (prefill) take the register-tiled panel product (panel_gemm.h) over their
// gathered tokens, or under Numerics::fast, where oneDNN has native bf16
// products, those (grouped_linear_bf16). Under Numerics::fast the inputs are
// Q15 (MoeArgs::q15_inputs): the token-at-a-time products take them as such
// (mxfp4_q15.h), big groups as int16 in integer tiles (mxfp4_q15_gemm.h), or
// the bf16 products their dequantized values. Where the CPU has AVX512-BF16
// the token-at-a-time products take bf16 inputs instead (mxfp4_bf16.h):
// rounded under fast; under exact, a lone token's as exact terms. Experts
// a backend tiled at load (MoeArgs::w1_tiled, w2_tiled; mxfp4_tiles.h) are
// read as tiles by the Q8 products and packed from them into the integer
// tiles, and untiled for every other path.
// Include once per level's kernel file, after panel_gemm.h.
#pragma once

#include <algorithm>
#include <vector>

#include "backend/cpu/bf16_products.h"
#include "backend/cpu/exp_lanes.h"
#include "backend/cpu/mxfp4_bf16.h"
#include "backend/cpu/mxfp4_q15.h"
#include "backend/cpu/mxfp4_q15_gemm.h"
#include "backend/cpu/mxfp4_q8.h"
#include "backend/cpu/mxfp4_tiles.h"
#include "backend/cpu/onednn_bf16_matmul.h"
#include "backend/cpu/panel_gemm.h"
#include "util/aligned_vector.h"
#include "util/job_ranges.h"
#include "util/numeric.h"
#include "util/thread_buffer.h"

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

namespace {

constexpr size_t kMxfp4TokenBlock = 4;            // tokens sharing one decode of a row
constexpr size_t kMxfp4JobRows = 8 * kPanelRows;  // rows per parallel job
static_assert(kMxfp4JobRows % kMxfp4TileRows == 0, "jobs start on tile boundaries");

// dst = src with every 32-element block in the level's MXFP4 element order (Simd::decode_order).
void permute_blocks(const float* src, size_t count, float* dst) {
  for (size_t b = 0; b < count; b += kMxfp4BlockElements) {
    for (size_t j = 0; j < kMxfp4BlockElements; ++j) dst[b + Simd::decode_order(j)] = src[b + j];
  }
}

// sums[j] = dot(MXFP4 row, x[j]) for NT tokens whose inputs are permuted
// (permute_blocks); `in` is a multiple of 32. Even and odd blocks sum into
// separate accumulators, so consecutive blocks' FMAs do not wait on each
// other: through one accumulator the AVX-512 loop ran at the FMA latency,
// 4.5 cycles per block where its instructions need 3 (llvm-mca, Skylake-X).
template <size_t NT>
void mxfp4_dot(const uint8_t* blocks, const uint8_t* scales, size_t in, const float* const* x, float* sums) {
  using Acc = Simd::Vec[NT][Simd::kMxfp4Chains];
  const Simd::Mxfp4Tables& tables = Simd::mxfp4_tables();
  Acc even, odd;
  for (size_t j = 0; j < NT; ++j) {
    for (size_t c = 0; c < Simd::kMxfp4Chains; ++c) even[j][c] = odd[j][c] = Simd::zero();
  }
  const auto add_block = [&](size_t b, Acc& acc) {
    if (b % 4 == 0) prefetch_ahead(blocks + b * kMxfp4BlockBytes);
    Simd::template mxfp4_block_dot<NT>(tables, blocks + b * kMxfp4BlockBytes, scales[b], x, b * kMxfp4BlockElements,
                                       acc);
  };
  const size_t count = in / kMxfp4BlockElements;
  size_t b = 0;
  for (; b + 2 <= count; b += 2) {
    add_block(b, even);
    add_block(b + 1, odd);
  }
  if (b < count) add_block(b, even);
  for (size_t j = 0; j < NT; ++j) {
    Simd::Vec total = Simd::add(even[j][0], odd[j][0]);
    for (size_t c = 1; c < Simd::kMxfp4Chains; ++c) total = Simd::add(total, Simd::add(even[j][c], odd[j][c]));
    sums[j] = Simd::sum(total);
  }
}

void mxfp4_dots(const uint8_t* blocks, const uint8_t* scales, size_t in, const float* const* x, size_t nt,
                float* sums) {
  with_count<kMxfp4TokenBlock>(nt, [&](auto tokens) { mxfp4_dot<tokens>(blocks, scales, in, x, sums); });
}

// Whether nt inputs of `bf16_terms` bf16 terms each multiply as such, or
// (exact terms, several inputs) as fp32. vdpbf16ps issues on the FMA's pipe
// at its rate (Zen 4 VM: one a cycle a core, the two together add up), so
// each input's three terms take 12 of them where its fp32 products take 8
// FMAs; only the codes' shared decode is cheaper as terms (11 operations
// against 24), which pays for one input alone. One token's experts, in the
// model, 52.5-53.7 ms a decoded token as terms against 53.1-58.0 as fp32; 2
// and 8 tokens, standalone, 4.9-6.2 and 21.5-24.0 ms a layer against
// 4.5-5.2 and 16.8-17.9.
inline bool bf16_terms_multiply(size_t bf16_terms, size_t nt) {
  return bf16_terms == 1 || nt == 1;
}

// output(r, sums) with sums[j] = dot(row r, input j) for rows [first, last)
// (row r at blocks + r * in / 2, scales + r * in / 32) and nt inputs: their
// Q8 vectors where they have them (x_q8[0].values set), else their packed
// bf16 vectors of bf16_terms terms where they have them (x_bf16[0] set) and
// bf16_terms_multiply says so, else their Q15 vectors where they are
// quantized (x_q15[0].digits set), else their fp32 values x.
template <class Output>
void mxfp4_rows_dots(const uint8_t* blocks, const uint8_t* scales, size_t in, size_t first, size_t last,
                     const float* const* x, const Q8Vector* x_q8, const Q15Vector* x_q15, const bf16_t* const* x_bf16,
                     size_t bf16_terms, size_t nt, Output output) {
  const size_t count = in / kMxfp4BlockElements;
  if (x_q8[0].values != nullptr) return mxfp4_q8_rows(blocks, scales, count, first, last, x_q8, nt, output);
#if defined(OSSRT_CPU_Q15_ZMM)
  if (x_bf16[0] != nullptr && bf16_terms_multiply(bf16_terms, nt)) {
    return mxfp4_bf16_rows(blocks, scales, count, first, last, x_bf16, nt, bf16_terms, output);
  }
#else
  (void)x_bf16;
  (void)bf16_terms;
#endif
  if (x_q15[0].digits != nullptr) return mxfp4_q15_rows(blocks, scales, count, first, last, x_q15, nt, output);
  for (size_t r = first; r < last; ++r) {
    float sums[kMxfp4TokenBlock];
    mxfp4_dots(blocks + r * count * kMxfp4BlockBytes, scales + r * count, in, x, nt, sums);
    output(r, static_cast<const float*>(sums));
  }
}

// The (token, slot) pairs that chose each expert, experts in ascending order.
struct ExpertGroups {
  std::vector<int32_t> experts;  // distinct experts
  std::vector<size_t> begin;     // experts.size() + 1 offsets into pairs
  std::vector<size_t> pairs;     // pair indices, grouped

  size_t pairs_in(size_t group) const { return begin[group + 1] - begin[group]; }
  size_t largest() const {
    size_t most = 0;
    for (size_t group = 0; group < experts.size(); ++group) most = std::max(most, pairs_in(group));
    return most;
  }
  size_t smallest() const {
    size_t least = pairs.size();
    for (size_t group = 0; group < experts.size(); ++group) least = std::min(least, pairs_in(group));
    return least;
  }
};

ExpertGroups group_by_expert(const int32_t* ids, size_t n_pairs) {
  ExpertGroups g;
  g.pairs.resize(n_pairs);
  for (size_t p = 0; p < n_pairs; ++p) g.pairs[p] = p;
  std::stable_sort(g.pairs.begin(), g.pairs.end(), [&](size_t a, size_t b) { return ids[a] < ids[b]; });
  for (size_t i = 0; i < n_pairs; ++i) {
    if (i == 0 || ids[g.pairs[i]] != ids[g.pairs[i - 1]]) {
      g.experts.push_back(ids[g.pairs[i]]);
      g.begin.push_back(i);
    }
  }
  g.begin.push_back(n_pairs);
  return g;
}

// Rows [first, last) of one expert matrix in the plain layout: row r's
// blocks at blocks + (r - first) * row bytes, its scales at scales + (r -
// first) * its blocks. Tiled matrices (MoeArgs::w1_tiled, w2_tiled) are untiled
// into `buffer` (plain_rows_bytes) for the paths that read plain rows.
struct PlainRows {
  const uint8_t* blocks;
  const uint8_t* scales;
};

inline size_t plain_rows_bytes(size_t rows, size_t count) {
  return rows * count * (kMxfp4BlockBytes + 1);
}

inline PlainRows plain_rows(const uint8_t* blocks, const uint8_t* scales, size_t rows, size_t count, bool tiled,
                            size_t first, size_t last, uint8_t* buffer) {
  if (!tiled) return {blocks + first * count * kMxfp4BlockBytes, scales + first * count};
  uint8_t* buffer_scales = buffer + (last - first) * count * kMxfp4BlockBytes;
#if defined(OSSRT_CPU_Q15_ZMM)
  mxfp4_untile_rows(blocks, scales, rows, count, first, last, buffer, buffer_scales);
#else
  untile_mxfp4_rows(blocks, scales, rows, count, first, last, buffer, buffer_scales);
#endif
  return {buffer, buffer_scales};
}

// A row widened to fp32 in the level's MXFP4 element order (Simd::decode_order), scales applied.
void widen_mxfp4_row(const uint8_t* blocks, const uint8_t* scales, size_t in, float* dst) {
  const Simd::Mxfp4Tables& tables = Simd::mxfp4_tables();
  for (size_t b = 0; b < in / kMxfp4BlockElements; ++b) {
    Simd::widen_mxfp4_block(tables, blocks + b * kMxfp4BlockBytes, scales[b], dst + b * kMxfp4BlockElements);
  }
}

// The row as widen_mxfp4_row and round_to_bf16 give it, directly where the
// level has a bf16 decode (Simd::widen_mxfp4_block_bf16), else through
// row_f32 (in floats). On the AVX-512 level the two passes took 68 of a
// 512-token layer's 432 ms of expert products (fast numerics, 2 threads, Zen 4).
template <class Level = Simd>
void widen_mxfp4_row_bf16(const uint8_t* blocks, const uint8_t* scales, size_t in, float* row_f32, bf16_t* dst) {
  if constexpr (requires { Level::widen_mxfp4_block_bf16(blocks, scales[0], dst); }) {
    for (size_t b = 0; b < in / kMxfp4BlockElements; ++b) {
      Level::widen_mxfp4_block_bf16(blocks + b * kMxfp4BlockBytes, scales[b], dst + b * kMxfp4BlockElements);
    }
  } else {
    widen_mxfp4_row(blocks, scales, in, row_f32);
    round_to_bf16(row_f32, in, dst);
  }
}

// The inputs of every expert group with at least kPanelMinTokens pairs,
// packed for the panel product (unless those groups are computed already);
// smaller groups are left out.
struct PackedGroups {
  bool big_groups;             // whether groups of kPanelMinTokens pairs or more are packed
  std::vector<size_t> offset;  // per group, into data
  CacheLineVector<float> data;

  bool packed(size_t group, const ExpertGroups& g) const { return big_groups && g.pairs_in(group) >= kPanelMinTokens; }
  PackedTokens tokens(size_t group, const ExpertGroups& g, size_t in) const {
    return PackedTokens{data.data() + offset[group], g.pairs_in(group), in};
  }
};

template <class Input>
PackedGroups pack_groups(const ExpertGroups& g, size_t in, bool big_groups, Input input) {
  PackedGroups p;
  p.big_groups = big_groups;
  p.offset.resize(g.experts.size());
  size_t total = 0;
  for (size_t group = 0; group < g.experts.size(); ++group) {
    p.offset[group] = total;
    if (p.packed(group, g)) total += packed_tokens_floats(g.pairs_in(group), in);
  }
  p.data.resize(total);
  const long long groups = static_cast<long long>(g.experts.size());
#pragma omp parallel for schedule(dynamic)
  for (long long group = 0; group < groups; ++group) {
    const size_t first = g.begin[static_cast<size_t>(group)];
    if (!p.packed(static_cast<size_t>(group), g)) continue;
    const size_t tokens = g.pairs_in(static_cast<size_t>(group));
    for (size_t s = 0; s < token_strips(tokens); ++s) {
      pack_token_strip(
          s, tokens, in, [&](size_t t) { return input(g.pairs[first + t]); },
          p.data.data() + p.offset[static_cast<size_t>(group)]);
    }
  }
  return p;
}

// Numerics::fast where the CPU multiplies bf16 natively: every expert group
// of at least kPanelMinTokens pairs has its inputs rounded to bf16 once, and
// its rows widened to bf16 a tile at a time (exact: an FP4 value times a
// power of two needs two mantissa bits) for bf16_products.h. Returns false,
// having computed nothing, where Products has no product for a shape (no
// native bf16 on this CPU, out of memory).
template <class Products, class Input, class Output>
bool grouped_linear_bf16(const ExpertGroups& g, const uint8_t* blocks, const uint8_t* scales, const bf16_t* bias,
                         size_t rows, size_t in, bool tiled, Input input, Output output) {
  const size_t row_bytes = in / kMxfp4BlockElements * kMxfp4BlockBytes, row_scales = in / kMxfp4BlockElements;
  const size_t tiles = Bf16TilePlan<Products>::tiles(rows);
  // Products and buffers first: nothing may allocate inside a parallel region.
  std::vector<Bf16TilePlan<Products>> plans(g.experts.size());
  std::vector<size_t> offset(g.experts.size());  // into the gathered inputs
  size_t gathered_size = 0, widest = 0, scratch_bytes = 0;
  for (size_t group = 0; group < g.experts.size(); ++group) {
    const size_t n = g.pairs_in(group);
    if (n < kPanelMinTokens) continue;
    plans[group] = Bf16TilePlan<Products>(rows, n, in);
    if (!plans[group].ok()) return false;
    offset[group] = gathered_size;
    gathered_size += plans[group].columns * in;
    widest = std::max(widest, plans[group].columns);
    scratch_bytes = std::max(scratch_bytes, plans[group].scratch_bytes());
  }
  if (gathered_size == 0) return true;
  CacheLineVector<bf16_t> gathered(gathered_size);  // zeros past each group's tokens
  PerThreadBuffer rows_f32(in);
  PerThreadArray<bf16_t> tiles_bf16(kBf16TileRows * in);
  PerThreadBuffer products(kBf16TileRows * widest);
  PerThreadArray<unsigned char> scratch(scratch_bytes);
  PerThreadArray<uint8_t> untiled(tiled ? plain_rows_bytes(kBf16TileRows, row_scales) : 0);

  const long long groups = static_cast<long long>(g.experts.size());
#pragma omp parallel for schedule(dynamic)
  for (long long group = 0; group < groups; ++group) {
    const size_t gi = static_cast<size_t>(group);
    if (!plans[gi].ok()) continue;
    for (size_t t = 0; t < g.pairs_in(gi); ++t) {
      round_to_bf16(input(g.pairs[g.begin[gi] + t]), in, gathered.data() + offset[gi] + t * in);
    }
  }

  const long long jobs = groups * static_cast<long long>(tiles);
#pragma omp parallel for schedule(dynamic)
  for (long long job = 0; job < jobs; ++job) {
    const size_t group = static_cast<size_t>(job) / tiles, first = static_cast<size_t>(job) % tiles * kBf16TileRows;
    if (!plans[group].ok()) continue;
    const size_t e = static_cast<size_t>(g.experts[group]), n = g.pairs_in(group);
    const size_t count = std::min(kBf16TileRows, rows - first);
    bf16_t* tile = tiles_bf16.mine();
    float* row_f32 = rows_f32.mine();
    const PlainRows plain = plain_rows(blocks + e * rows * row_bytes, scales + e * rows * row_scales, rows, row_scales,
                                       tiled, first, first + count, untiled.mine());
    for (size_t r = 0; r < count; ++r) {
      widen_mxfp4_row_bf16(plain.blocks + r * row_bytes, plain.scales + r * row_scales, in, row_f32, tile + r * in);
    }
    float* sums = products.mine();
    const size_t columns = plans[group].columns;
    plans[group].multiply(tile, count, gathered.data() + offset[group], in, sums, scratch.mine());
    // A token's outputs in row order: one run of the tile's rows per token,
    // where row by row every output went to another token's line (the
    // outputs took 32 of a 512-token layer's 390 ms; Zen 4, 2 threads).
    for (size_t t = 0; t < n; ++t) {
      const size_t pair = g.pairs[g.begin[group] + t];
      for (size_t r = 0; r < count; ++r) {
        output(pair, first + r, sums[r * columns + t] + bf16_to_f32(bias[e * rows + first + r]));
      }
    }
  }
  return true;
}

// Whether grouped_linear_bf16 has a product for every group of at least
// kPanelMinTokens pairs, `rows` rows of `in` inputs (Bf16TilePlan; the
// products are made once per shape and kept).
template <class Products>
bool bf16_products_take(const ExpertGroups& g, size_t rows, size_t in) {
  for (size_t group = 0; group < g.experts.size(); ++group) {
    const size_t n = g.pairs_in(group);
    if (n >= kPanelMinTokens && !Bf16TilePlan<Products>(rows, n, in).ok()) return false;
  }
  return true;
}

// out(pair, r) = dot(row r of expert e, input(pair)) + bias(e, r) for every
// pair of every expert, rows [0, rows), in parallel jobs of kMxfp4JobRows
// rows; with bf16_products, through grouped_linear_bf16 where it can. Groups
// too small for the panel product multiply q8_input(pair), the Q8 vectors
// (mxfp4_q8.h), where its values are not null; else bf16_input(pair), the
// packed vectors of bf16_terms bf16 terms (mxfp4_bf16.h), where it is not
// null; else, with q15_input (pair -> Q15Vector, null digits when the inputs are
// fp32), the Q15 vectors (input(pair) is their dequantized values). Bigger
// groups, where the Q15 vectors carry their int16 values and no bf16
// product took them, take the 16-row integer tiles (mxfp4_q15_gemm.h).
// `tiled`: the matrices are in mxfp4_tiles.h's tiles, which the Q8 products
// read as such (mxfp4_q8_tiles), the integer tiles pack from
// (mxfp4_tiled_q15_rows_times_vectors), and every other path untiles, a
// job's rows at a time (plain_rows).
template <class Products, class Input, class Q8Input, class Q15Input, class Bf16Input, class Output>
void grouped_linear(const ExpertGroups& g, const uint8_t* blocks, const uint8_t* scales, const bf16_t* bias,
                    size_t rows, size_t in, bool bf16_products, bool tiled, Input input, Q8Input q8_input,
                    Q15Input q15_input, Bf16Input bf16_input, size_t bf16_terms, Output output) {
  const size_t row_bytes = in / kMxfp4BlockElements * kMxfp4BlockBytes, row_scales = in / kMxfp4BlockElements;
  const bool big_groups_done =
      bf16_products && grouped_linear_bf16<Products>(g, blocks, scales, bias, rows, in, tiled, input, output);
  // The vectors carry int16 values only when some group is that big.
  const bool q15_tiles = !big_groups_done && !g.pairs.empty() && q15_input(g.pairs[0]).values != nullptr;
  // Buffers first: nothing may throw inside a parallel region.
  const PackedGroups packed = pack_groups(g, in, !big_groups_done && !q15_tiles, input);
  PerThreadBuffer panels(packed.data.empty() ? 0 : multiply_rows_buffer_floats(kMxfp4JobRows, in));
  PerThreadArray<int32_t> tile_pairs(q15_tiles ? q15_tile_pairs(in) : 0);
  PerThreadBuffer tile_powers(q15_tiles ? q15_tile_powers(in) : 0);
  PerThreadArray<uint8_t> untiled(tiled ? plain_rows_bytes(kMxfp4JobRows, row_scales) : 0);
  // Every expert has the same rows, so job -> (expert group, row block) is a division.
  const size_t jobs_per_expert = (rows + kMxfp4JobRows - 1) / kMxfp4JobRows;
  const size_t jobs = g.experts.size() * jobs_per_expert;
  const auto run_job = [&](size_t job) {
    const size_t group = job / jobs_per_expert;
    const size_t e = static_cast<size_t>(g.experts[group]);
    const size_t first = job % jobs_per_expert * kMxfp4JobRows;
    const size_t last = std::min(first + kMxfp4JobRows, rows);
    if (big_groups_done && g.pairs_in(group) >= kPanelMinTokens) return;
    const size_t expert_row = e * rows;
    const uint8_t* expert_blocks = blocks + expert_row * row_bytes;
    const uint8_t* expert_scales = scales + expert_row * row_scales;
    // Every path but those that read tiles (the Q8 products', the integer
    // tiles') reads the job's rows plain.
    const auto job_rows = [&] {
      return plain_rows(expert_blocks, expert_scales, rows, row_scales, tiled, first, last, untiled.mine());
    };
    if (q15_tiles && g.pairs_in(group) >= kPanelMinTokens) {
      const size_t begin = g.begin[group];
      const auto vector = [&](size_t t) { return q15_input(g.pairs[begin + t]); };
      const auto row_output = [&](size_t t, size_t r, float sum) {
        output(g.pairs[begin + t], r, sum + bf16_to_f32(bias[expert_row + r]));
      };
#if defined(OSSRT_CPU_Q15_ZMM)
      if (tiled) {
        return mxfp4_tiled_q15_rows_times_vectors(expert_blocks, expert_scales, rows, first, last, in,
                                                  g.pairs_in(group), vector, tile_pairs.mine(), tile_powers.mine(),
                                                  row_output);
      }
#endif
      const PlainRows plain = job_rows();
      mxfp4_q15_rows_times_vectors(plain.blocks, plain.scales, 0, last - first, in, g.pairs_in(group), vector,
                                   tile_pairs.mine(), tile_powers.mine(),
                                   [&](size_t t, size_t r, float sum) { row_output(t, first + r, sum); });
      return;
    }
    if (packed.packed(group, g)) {
      const PlainRows plain = job_rows();
      multiply_rows(
          first, last, packed.tokens(group, g, in), panels.mine(),
          [&](size_t r, float* dst) {
            widen_mxfp4_row(plain.blocks + (r - first) * row_bytes, plain.scales + (r - first) * row_scales, in, dst);
          },
          [&](size_t t, size_t r, float sum) {
            output(g.pairs[g.begin[group] + t], r, sum + bf16_to_f32(bias[expert_row + r]));
          });
      return;
    }
    // The Q8 products read tiles as such (only the 512-bit level tiles
    // experts); every other product the job's rows plain, untiled once for
    // all its token blocks.
#if defined(OSSRT_CPU_Q15_ZMM)
    const bool reads_tiles = tiled && q8_input(g.pairs[g.begin[group]]).values != nullptr;
#else
    constexpr bool reads_tiles = false;
#endif
    const PlainRows plain = reads_tiles ? PlainRows{} : job_rows();
    for (size_t p0 = g.begin[group]; p0 < g.begin[group + 1]; p0 += kMxfp4TokenBlock) {
      const size_t nt = std::min(kMxfp4TokenBlock, g.begin[group + 1] - p0);
      const float* x[kMxfp4TokenBlock];
      Q8Vector x_q8[kMxfp4TokenBlock];
      Q15Vector x_q15[kMxfp4TokenBlock];
      const bf16_t* x_bf16[kMxfp4TokenBlock];
      for (size_t j = 0; j < nt; ++j) {
        x[j] = input(g.pairs[p0 + j]);
        x_q8[j] = q8_input(g.pairs[p0 + j]);
        x_q15[j] = q15_input(g.pairs[p0 + j]);
        x_bf16[j] = bf16_input(g.pairs[p0 + j]);
      }
      const auto group_output = [&](size_t r, const float* sums) {
        const float b = bf16_to_f32(bias[expert_row + r]);
        for (size_t j = 0; j < nt; ++j) output(g.pairs[p0 + j], r, sums[j] + b);
      };
#if defined(OSSRT_CPU_Q15_ZMM)
      if (reads_tiles) {
        mxfp4_q8_tiles(expert_blocks, expert_scales, row_scales, rows, first, last, x_q8, nt, group_output);
        continue;
      }
#endif
      mxfp4_rows_dots(plain.blocks, plain.scales, in, 0, last - first, x, x_q8, x_q15, x_bf16, bf16_terms, nt,
                      [&](size_t r, const float* sums) { group_output(first + r, sums); });
    }
  };
  // Where every group has the same token count (a decoded token's experts)
  // the jobs cost the same: one contiguous run each thread, balanced at the
  // end (for_each_job). Else a job's cost is its group's token count, and
  // small dynamic chunks balance them.
  if (g.largest() * g.experts.size() == g.pairs.size()) return for_each_job(jobs, run_job);
#pragma omp parallel for schedule(dynamic, 4)
  for (long long job = 0; job < static_cast<long long>(jobs); ++job) run_job(static_cast<size_t>(job));
}

// numeric.h's swiglu for the lanes' (glu, linear) pairs, e^x within 2 ulp
// (exp_lanes), the reference's std::exp takes a scalar call per element:
// 17-20 of a 512-token layer's 330-350 ms (fast, 2 threads, Zen 4). The
// operands of min and max are ordered so a NaN stays NaN, as std::min and
// std::clamp keep it (x86 min and max return their second operand then).
inline Simd::Vec swiglu_lanes(Simd::Vec glu, Simd::Vec linear, float limit) {
  const Simd::Vec ceiling = Simd::set1(limit), one = Simd::set1(1.0f);
  glu = Simd::min(ceiling, glu);
  linear = Simd::min(ceiling, Simd::max(Simd::set1(-limit), linear));
  const Simd::Vec sigmoid_denominator = Simd::add(one, exp_lanes(Simd::mul(glu, Simd::set1(-1.702f))));
  return Simd::mul(Simd::div(glu, sigmoid_denominator), Simd::add(linear, one));
}

// dst[decode_order(j)] = swiglu(h[2j], h[2j + 1]) for one 32-element block
// (the level's MXFP4 element order, Simd::decode_order, which stage 2 reads).
// Pointers in, not vectors: called inside a parallel region, whose outlined
// body clang compiles without the level's target.
void swiglu_block(const float* h, float* dst, float limit) {
  alignas(64) float glu[kMxfp4BlockElements], linear[kMxfp4BlockElements], act[kMxfp4BlockElements];
  for (size_t j = 0; j < kMxfp4BlockElements; ++j) {
    glu[j] = h[2 * j];
    linear[j] = h[2 * j + 1];
  }
  for (size_t j = 0; j < kMxfp4BlockElements; j += Simd::kLanes) {
    Simd::store(act + j, swiglu_lanes(Simd::load(glu + j), Simd::load(linear + j), limit));
  }
  for (size_t j = 0; j < kMxfp4BlockElements; ++j) dst[Simd::decode_order(j)] = act[j];
}

// act[pair] = swiglu_block of h[pair] for every pair and 32-element block of
// I, where h is scratch + pair * 3I and act scratch + pair * 3I + 2I.
void swiglu_blocks(float* scratch, size_t pairs, size_t I, float limit) {
  const size_t blocks_per_pair = I / kMxfp4BlockElements;
  const long long blocks = static_cast<long long>(pairs * blocks_per_pair);
#pragma omp parallel for schedule(static)
  for (long long job = 0; job < blocks; ++job) {
    const size_t pair = static_cast<size_t>(job) / blocks_per_pair;
    const size_t j0 = static_cast<size_t>(job) % blocks_per_pair * kMxfp4BlockElements;
    swiglu_block(scratch + pair * 3 * I + 2 * j0, scratch + pair * 3 * I + 2 * I + j0, limit);
  }
}

// The MoE entry, with the bf16 products it takes under bf16_products.
template <class Products>
void moe_mxfp4_with(const MoeArgs& a) {
  const size_t I = a.intermediate, H = a.hidden, pairs = a.n * a.k;
  const float limit = a.swiglu_limit;
  const ExpertGroups groups = group_by_expert(a.expert_ids, pairs);
  // Where the CPU multiplies bf16 natively, the small groups multiply bf16
  // inputs (mxfp4_bf16.h): under bf16_products rounded, in fp32 numerics
  // (neither flag) exact as three terms each where a group has one token
  // (bf16_terms_multiply); Q15 vectors are then made only for the big
  // groups' integer tiles (where no bf16 product took them).
  // Only groups below kPanelMinTokens take the bf16 vectors: where none is
  // (a long prefill chunk) they are not made: 512 tokens' 7.4 million
  // elements took a layer's work beside its products from 44-51 to 65-75 ms
  // (2 threads, Zen 4).
  // Where the CPU has VNNI and VBMI (or AVX-VNNI, on the AVX2 level), the
  // small groups multiply byte digits (mxfp4_q8.h) instead, fewer loads and
  // operations than either: Q8 inputs under fast numerics with bf16
  // products, and Q24 ones (3 digits, within the fp32 sums' rounding) in
  // fp32 numerics.
  const bool big_groups = groups.largest() >= kPanelMinTokens;
  const bool small_groups = groups.smallest() < kPanelMinTokens;
  const bool fp32_numerics = !a.bf16_products && !a.q15_inputs;
  const bool q8_small = small_groups && ((a.bf16_products && a.q15_inputs && mxfp4_q8_products()) ||
                                         (fp32_numerics && mxfp4_q24_products()));
  const size_t q8_digits = fp32_numerics ? 3 : 1;
  const bool bf16_small = small_groups && !q8_small && mxfp4_bf16_products() && (a.bf16_products || !a.q15_inputs);
  const size_t bf16_terms = a.bf16_products ? 1 : 3;
  // Inputs in the level's MXFP4 element order (Simd::decode_order), once per
  // token, for the groups that multiply fp32 inputs (every group without Q15
  // or bf16 inputs; the big ones, and exact terms' groups of several tokens,
  // otherwise); where Q15 vectors are made, quantized and dequantized.
  const bool fp32_inputs = big_groups || (!a.q15_inputs && !bf16_small && !q8_small) ||
                           (bf16_small && !bf16_terms_multiply(bf16_terms, groups.largest()));
  CacheLineVector<float> permuted(fp32_inputs ? a.n * H : 0);
  // The big groups multiply bf16 inputs rounded from fp32 under
  // bf16_products where oneDNN has the products for both stages
  // (bf16_products_take), else Q15 ones: then with their int16 values. A
  // 512-token layer's Q15 vectors, unread beside the bf16 products, took
  // 15-19 of its 330-350 ms (fast, 2 threads, Zen 4).
  const bool big_groups_bf16 = a.bf16_products && big_groups && bf16_products_take<Products>(groups, 2 * I, H) &&
                               bf16_products_take<Products>(groups, H, I);
  const bool q15_values = a.q15_inputs && big_groups && !big_groups_bf16;
  const bool q15_vectors = q15_values || (a.q15_inputs && small_groups && !bf16_small && !q8_small);
  Q15Vectors x_q15(q15_vectors ? a.n : 0, H, q15_values), act_q15(q15_vectors ? pairs : 0, I, q15_values);
  Q8Vectors x_q8(q8_small ? a.n : 0, H, q8_digits), act_q8(q8_small ? pairs : 0, I, q8_digits);
  Mxfp4Bf16Vectors x_bf16(bf16_small ? a.n : 0, H, bf16_terms), act_bf16(bf16_small ? pairs : 0, I, bf16_terms);
  const long long tokens = static_cast<long long>(a.n);
#pragma omp parallel for schedule(static)
  for (long long t = 0; t < tokens; ++t) {
    const float* x = a.x + static_cast<size_t>(t) * H;
    float* dst = fp32_inputs ? permuted.data() + static_cast<size_t>(t) * H : nullptr;
    if (bf16_small) {
      x_bf16.pack(static_cast<size_t>(t), x, [](size_t j) { return j; });
    }
    if (q8_small) x_q8.quantize(static_cast<size_t>(t), x, [](size_t j) { return j; });
    if (q15_vectors) {
      x_q15.quantize(
          static_cast<size_t>(t), x, [](size_t j) { return j; }, dst);
    } else if (dst != nullptr) {
      permute_blocks(x, H, dst);
    }
  }
  // Stage 1: mlp1 rows (glu / linear interleaved) into scratch[pair][0, 2I).
  grouped_linear<Products>(
      groups, a.w1_blocks, a.w1_scales, a.b1, 2 * I, H, a.bf16_products, a.w1_tiled,
      [&](size_t pair) { return fp32_inputs ? permuted.data() + pair / a.k * H : nullptr; },
      [&](size_t pair) { return q8_small ? x_q8.vector(pair / a.k) : Q8Vector{}; },
      [&](size_t pair) { return q15_vectors ? x_q15.vector(pair / a.k) : Q15Vector{}; },
      [&](size_t pair) { return bf16_small ? x_bf16.vector(pair / a.k) : nullptr; }, bf16_terms,
      [&](size_t pair, size_t r, float value) { a.scratch[pair * 3 * I + r] = value; });
  // SwiGLU into scratch[pair][2I, 3I), stored in that order for stage 2.
  swiglu_blocks(a.scratch, pairs, I, limit);
  const auto activation = [&](size_t pair) -> const float* { return a.scratch + pair * 3 * I + 2 * I; };
  // Packed for the bf16 products, and quantized, the values replaced by
  // their dequantized ones.
  if (bf16_small || q15_vectors || q8_small) {
#pragma omp parallel for schedule(static)
    for (long long pair = 0; pair < static_cast<long long>(pairs); ++pair) {
      float* act = a.scratch + static_cast<size_t>(pair) * 3 * I + 2 * I;
      const auto position = [](size_t j) { return Simd::decode_order(j); };
      if (bf16_small) act_bf16.pack(static_cast<size_t>(pair), act, position);
      if (q8_small) act_q8.quantize(static_cast<size_t>(pair), act, position);
      if (q15_vectors) act_q15.quantize(static_cast<size_t>(pair), act, position, fp32_inputs ? act : nullptr);
    }
  }
  const auto act_q8_input = [&](size_t pair) { return q8_small ? act_q8.vector(pair) : Q8Vector{}; };
  const auto act_q15_input = [&](size_t pair) { return q15_vectors ? act_q15.vector(pair) : Q15Vector{}; };
  const auto act_bf16_input = [&](size_t pair) { return bf16_small ? act_bf16.vector(pair) : nullptr; };
  // Stage 2: mlp2 per pair into scratch[pair][0, H) (mlp1's rows are spent),
  // then the weighted sum over slots in slot order, as the reference adds it.
  if (H <= 2 * I) {
    grouped_linear<Products>(groups, a.w2_blocks, a.w2_scales, a.b2, H, I, a.bf16_products, a.w2_tiled, activation,
                             act_q8_input, act_q15_input, act_bf16_input, bf16_terms,
                             [&](size_t pair, size_t r, float value) { a.scratch[pair * 3 * I + r] = value; });
    const long long outputs = static_cast<long long>(a.n * H);
#pragma omp parallel for schedule(static)
    for (long long job = 0; job < outputs; ++job) {
      const size_t t = static_cast<size_t>(job) / H, r = static_cast<size_t>(job) % H;
      float total = 0;
      for (size_t s = 0; s < a.k; ++s) total += a.expert_weights[t * a.k + s] * a.scratch[(t * a.k + s) * 3 * I + r];
      a.y[t * H + r] += total;
    }
    return;
  }
  // Wider outputs than the scratch holds: one (token, row) at a time.
  const size_t w2_row_scales = I / kMxfp4BlockElements;
  PerThreadArray<uint8_t> untiled(a.w2_tiled ? plain_rows_bytes(1, w2_row_scales) : 0);
  const long long outputs = static_cast<long long>(a.n * H);
#pragma omp parallel for schedule(static)
  for (long long job = 0; job < outputs; ++job) {
    const size_t t = static_cast<size_t>(job) / H, r = static_cast<size_t>(job) % H;
    float total = 0;
    for (size_t s = 0; s < a.k; ++s) {
      const size_t pair = t * a.k + s, expert = static_cast<size_t>(a.expert_ids[pair]), row = expert * H + r;
      const PlainRows plain =
          plain_rows(a.w2_blocks + expert * H * w2_row_scales * kMxfp4BlockBytes,
                     a.w2_scales + expert * H * w2_row_scales, H, w2_row_scales, a.w2_tiled, r, r + 1, untiled.mine());
      const float* act = activation(pair);
      const Q8Vector act_q8_vector = act_q8_input(pair);
      const Q15Vector act_q15_vector = act_q15_input(pair);
      const bf16_t* act_bf16_vector = act_bf16_input(pair);
      float sum = 0;
      mxfp4_rows_dots(plain.blocks, plain.scales, I, 0, 1, &act, &act_q8_vector, &act_q15_vector, &act_bf16_vector,
                      bf16_terms, 1, [&](size_t, const float* sums) { sum = sums[0]; });
      total += a.expert_weights[pair] * (sum + bf16_to_f32(a.b2[row]));
    }
    a.y[t * H + r] += total;
  }
}

}  // namespace

void moe_mxfp4_f32(void*, const MoeArgs& a) {
  moe_mxfp4_with<Bf16Matmul>(a);
}

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
