// bf16-weight matmul, ISA-generic (one instance per level, in its
// namespace). One token (decode), and a few (batched decode) in bf16
// products or against small weights: a row at a time for every token, each
// thread's rows one sequential stream (token_rows), a token's sums the same
// however many share the call. A few in fp32 against bigger weights:
// register tiles of rows by up to four tokens, the tokens' inputs in chunks
// that stay in L1 while the rows stream past. Decode reads every weight
// exactly once.
// Many tokens (prefill): the register-tiled panel product (panel_gemm.h), or
// oneDNN's GEMM on widened weight rows for the longest chunks; under
// Numerics::fast, where oneDNN has native bf16, its bf16 products
// (bf16_products.h). The many-token fp32 path takes any row widening
// (matmul_widened): the Q8_0 kernel (q8_0_kernel.h) reuses it. Include once
// per level's kernel file, after panel_gemm.h.
#pragma once

#include <algorithm>
#include <vector>

#include "backend/cpu/bf16_products.h"
#include "backend/cpu/cpu_features.h"
#if defined(OSSRT_CPU_Q15_ZMM)
#include "backend/cpu/bf16_dot_zmm.h"
#endif
#include "backend/cpu/onednn_bf16_matmul.h"
#include "backend/cpu/onednn_gemm.h"
#include "backend/cpu/panel_gemm.h"
#include "util/aligned_vector.h"
#include "util/job_ranges.h"
#include "util/numeric.h"
#include "util/thread_buffer.h"

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

namespace {

constexpr size_t kDecodeTokenBlock = 4;
constexpr size_t kDecodeRowBlock = 16;

// Where element i of a pair step's 2L inputs comes from: Simd::load_bf16_pair
// widens 2L weights without crossing 128-bit lanes, two operations where a
// zero-extension and a shift per L took four, so the fp32 products take the
// tokens' inputs permuted once per call to the same order
// (pair_ordered_inputs).
constexpr size_t pair_source(size_t i) {
  constexpr size_t L = Simd::kLanes;
  return 8 * (i % L / 4) + 4 * (i / L) + i % 4;
}

// Inputs a pair step takes: the two vectors of Simd::load_bf16_pair.
constexpr size_t kPairStep = 2 * Simd::kLanes;

// The tokens' inputs with every whole run of 2L in pair order and the last
// in % 2L as they are, rows a.in apart.
CacheLineVector<float> pair_ordered_inputs(const MatmulArgs& a) {
  CacheLineVector<float> ordered(a.n * a.in);
  for (size_t t = 0; t < a.n; ++t) {
    const float* from = a.x + t * a.x_stride;
    float* to = ordered.data() + t * a.in;
    size_t k = 0;
    for (; k + kPairStep <= a.in; k += kPairStep) {
      for (size_t i = 0; i < kPairStep; ++i) to[k + i] = from[k + pair_source(i)];
    }
    std::copy(from + k, from + a.in, to + k);
  }
  return ordered;
}

// sums[t] = dot(w[0..in), x[t][0..in)) for one row and NT fp32 tokens in
// pair order (pair_ordered_inputs), a row at a time (token_rows): each
// thread's rows are then one sequential stream. Rows read side by side (8
// rows of 2880 bf16, each its own stream) reached 41-45 GB/s where a row at
// a time reached 70-80 (standalone loop over 1.16 GB, 2 threads, Zen 4), and
// a plain 2-thread read 60-66. Four accumulators a token hide the FMA
// latency; a token's sums do not depend on NT. Pair steps against the
// zero-extension and shift, standalone loop over rows in L2, one core of the
// Zen 4 VM: 512-bit 39.7 -> 41.4-47.3 GB/s, 256-bit 30.0-37.6 -> 33.9-51.0;
// here, exact qkv, one thread (CPU time, 3 pairs in turns): AVX-512 level
// 1.27-1.37 -> 1.12-1.22 ms, AVX2 level 1.20-1.45 -> 1.08-1.29.
template <size_t NT>
void dot_row(const bf16_t* w, const float* const* x, size_t in, float* sums, LinesAhead ahead = {}) {
  constexpr size_t L = Simd::kLanes, U = 2;
  Simd::Vec acc[2 * U][NT];
  for (auto& chain : acc) {
    for (auto& v : chain) v = Simd::zero();
  }
  size_t until_ahead = 0;  // steps before the next line asked for ahead
  size_t i = 0;
  // asks: whether lines are asked for ahead, a constant, so a row without
  // (one token's) has no test in its loop: with one, one token's exact qkv
  // took 0.84 against 0.77 ms (2 threads, Zen 4).
  const auto row = [&](auto asks) {
    const auto step = [&](size_t at, Simd::Vec(&low)[NT], Simd::Vec(&high)[NT]) {
      if constexpr (decltype(asks)::value) ahead.step(until_ahead);
      Simd::Vec low_weights, high_weights;
      Simd::load_bf16_pair(w + at, low_weights, high_weights);
      for (size_t t = 0; t < NT; ++t) {
        low[t] = Simd::fmadd(low_weights, Simd::load(x[t] + at), low[t]);
        high[t] = Simd::fmadd(high_weights, Simd::load(x[t] + at + L), high[t]);
      }
    };
    for (; i + U * kPairStep <= in; i += U * kPairStep) {
      for (size_t u = 0; u < U; ++u) step(i + u * kPairStep, acc[2 * u], acc[2 * u + 1]);
    }
    for (; i + kPairStep <= in; i += kPairStep) step(i, acc[0], acc[1]);
  };
  if (ahead.from != nullptr) {
    row(std::true_type{});
  } else {
    row(std::false_type{});
  }
  for (size_t t = 0; t < NT; ++t) {
    float sum = Simd::sum(Simd::add(Simd::add(acc[0][t], acc[1][t]), Simd::add(acc[2][t], acc[3][t])));
    for (size_t k = i; k < in; ++k) sum += x[t][k] * bf16_to_f32(w[k]);
    sums[t] = sum;
  }
}

// y[t, o] (+)= sum + bias[o]
void store_output(const MatmulArgs& a, size_t t, size_t o, float sum) {
  const float bias = a.bias != nullptr ? bf16_to_f32(a.bias[o]) : 0.0f;
  float& y = a.y[t * a.y_stride + o];
  y = a.accumulate ? y + (sum + bias) : sum + bias;
}

// Rows per parallel job of the panel product: eight panels.
constexpr size_t kPanelJobRows = 8 * kPanelRows;

// Rows [first_row, out) through the panel product; widen(r, dst) writes
// weight row r as a.in floats (the bf16 rows widened, Q8_0 rows dequantized).
template <class Widen>
void matmul_panels(const MatmulArgs& a, size_t first_row, Widen widen) {
  // Buffers first: nothing may throw inside a parallel region.
  CacheLineVector<float> packed(packed_tokens_floats(a.n, a.in));
  PerThreadBuffer panels(multiply_rows_buffer_floats(kPanelJobRows, a.in));
  const long long strips = static_cast<long long>(token_strips(a.n));
#pragma omp parallel for schedule(static)
  for (long long s = 0; s < strips; ++s) {
    pack_token_strip(
        static_cast<size_t>(s), a.n, a.in, [&](size_t t) { return a.x + t * a.x_stride; }, packed.data());
  }
  const PackedTokens x{packed.data(), a.n, a.in};
  const long long jobs = static_cast<long long>((a.out - first_row + kPanelJobRows - 1) / kPanelJobRows);
#pragma omp parallel for schedule(static)
  for (long long job = 0; job < jobs; ++job) {
    const size_t first = first_row + static_cast<size_t>(job) * kPanelJobRows;
    const size_t last = std::min(first + kPanelJobRows, a.out);
    multiply_rows(first, last, x, panels.mine(), widen,
                  [&](size_t t, size_t r, float sum) { store_output(a, t, r, sum); });
  }
}

// From this many tokens on, oneDNN's GEMM takes the product: it is faster
// there (gpt-oss-20b's qkv and attention output on the 2-core EPYC VM,
// GFLOP/s panel vs oneDNN: 256 tokens 159 and 157 vs 149 and 146; 512 tokens
// 150 and 142 vs 166 and 164) and it uses AVX-512 on CPUs that have it;
// below, its setup costs more than it saves (64 tokens: 145 vs 89-103).
constexpr size_t kOnednnMinTokens = 512;
// Weight bytes widened to fp32 per oneDNN call: 1456 rows of gpt-oss's 2880
// inputs, 1024 of its 4096. Past the L3 it slowed down: 2048 rows of 4096
// inputs (33.5 MB, the EPYC VM has 32 MB) ran the attention output at 125
// against 157 GFLOP/s for 512 tokens; 720 to 1920 rows were within 3 %.
constexpr size_t kOnednnChunkBytes = size_t{16} << 20;

// The rows oneDNN computed, all of them unless it refused a call (the caller
// computes the rest); y rows past that are untouched. widen as for matmul_panels.
template <class Widen>
size_t matmul_onednn(const MatmulArgs& a, Widen widen) {
  const size_t chunk_rows_max = std::max<size_t>(64, kOnednnChunkBytes / (a.in * sizeof(float)));
  CacheLineVector<float> widened(std::min(chunk_rows_max, a.out) * a.in);
  for (size_t r0 = 0; r0 < a.out; r0 += chunk_rows_max) {
    const size_t rows = std::min(chunk_rows_max, a.out - r0);
    const long long chunk_rows = static_cast<long long>(rows);
#pragma omp parallel for schedule(static)
    for (long long r = 0; r < chunk_rows; ++r) {
      const size_t row = static_cast<size_t>(r);
      widen(r0 + row, widened.data() + row * a.in);
    }
    const float beta = a.accumulate ? 1.0f : 0.0f;
    if (!onednn_gemm_nt(a.n, rows, a.in, a.x, a.x_stride, widened.data(), a.in, beta, a.y + r0, a.y_stride)) {
      return r0;
    }
    if (a.bias == nullptr) continue;
    const long long tokens = static_cast<long long>(a.n);
#pragma omp parallel for schedule(static)
    for (long long t = 0; t < tokens; ++t) {
      float* y = a.y + static_cast<size_t>(t) * a.y_stride + r0;
      for (size_t r = 0; r < rows; ++r) y[r] += bf16_to_f32(a.bias[r0 + r]);
    }
  }
  return a.out;
}

// Many tokens (kPanelMinTokens or more) in fp32 products of weight rows
// widened once (widen as for matmul_panels): oneDNN's GEMM from
// kOnednnMinTokens tokens, the panel product below that or where oneDNN
// refused a call.
template <class Widen>
void matmul_widened(const MatmulArgs& a, Widen widen) {
  const size_t done = a.n >= kOnednnMinTokens ? matmul_onednn(a, widen) : 0;
  if (done < a.out) matmul_panels(a, done, widen);
}

// Numerics::fast where the CPU multiplies bf16 natively: the tokens rounded
// to bf16 once, the weight rows (bf16 already) multiplied in place a tile at
// a time (bf16_products.h). Returns false, having computed nothing, where
// Products has no product for the shapes (no native bf16 here, out of memory).
template <class Products>
bool matmul_bf16_products(const MatmulArgs& a) {
  const Bf16TilePlan<Products> plan(a.out, a.n, a.in);
  if (!plan.ok()) return false;
  // Buffers first: nothing may throw inside a parallel region.
  CacheLineVector<bf16_t> x(plan.columns * a.in);  // zeros past the n tokens
  PerThreadBuffer products(kBf16TileRows * plan.columns);
  PerThreadArray<unsigned char> scratch(plan.scratch_bytes());
  const long long tokens = static_cast<long long>(a.n);
#pragma omp parallel for schedule(static)
  for (long long t = 0; t < tokens; ++t) {
    const size_t token = static_cast<size_t>(t);
    round_to_bf16(a.x + token * a.x_stride, a.in, x.data() + token * a.in);
  }
  const long long tiles = static_cast<long long>(Bf16TilePlan<Products>::tiles(a.out));
#pragma omp parallel for schedule(static)
  for (long long tile = 0; tile < tiles; ++tile) {
    const size_t first = static_cast<size_t>(tile) * kBf16TileRows, count = std::min(kBf16TileRows, a.out - first);
    float* sums = products.mine();
    plan.multiply(a.w + first * a.in, count, x.data(), a.in, sums, scratch.mine());
    for (size_t r = 0; r < count; ++r) {
      for (size_t t = 0; t < a.n; ++t) store_output(a, t, first + r, sums[r * plan.columns + t]);
    }
  }
  return true;
}

// Calls block(first, last, t0, tokens) for every job of kDecodeRowBlock rows
// [first, last), the jobs in parallel (each thread one contiguous range of
// them, balanced at the end: for_each_job), and in a job every block of up
// to TokenBlock tokens from t0 (tokens: an std::integral_constant of the
// block's count).
template <size_t TokenBlock, class Block>
void for_row_jobs(const MatmulArgs& a, Block block) {
  for_each_job((a.out + kDecodeRowBlock - 1) / kDecodeRowBlock, [&](size_t job) {
    const size_t first = job * kDecodeRowBlock, last = std::min(first + kDecodeRowBlock, a.out);
    for (size_t t0 = 0; t0 < a.n; t0 += TokenBlock) {
      with_count<TokenBlock>(a.n - t0, [&](auto tokens) { block(first, last, t0, tokens); });
    }
  });
}

// Decode: rows in parallel jobs of kDecodeRowBlock, each job's rows against
// the tokens in blocks of up to kDecodeTokenBlock, a block of one token
// SingleRows rows at a time, then single rows; a block of more tokens (Q8_0's
// few tokens) one row at a time. dot(o, t0, sums) fills float sums[R][NT]:
// rows o .. o + R against tokens t0 .. t0 + NT (R is 1, or SingleRows with NT
// 1; NT up to TokenBlock). y[t, o] (+)= sums + bias.
template <size_t SingleRows = Simd::kGemvRows, size_t TokenBlock = kDecodeTokenBlock, class Dot>
void decode_rows(const MatmulArgs& a, Dot dot) {
  for_row_jobs<TokenBlock>(a, [&](size_t first, size_t last, size_t t0, auto tokens) {
    constexpr size_t NT = decltype(tokens)::value;
    size_t o = first;
    const auto run = [&](auto rows) {
      constexpr size_t R = decltype(rows)::value;
      float sums[R][NT];
      dot(o, t0, sums);
      for (size_t r = 0; r < R; ++r) {
        for (size_t j = 0; j < NT; ++j) store_output(a, t0 + j, o + r, sums[r][j]);
      }
      o += R;
    };
    constexpr size_t kRows = NT == 1 ? SingleRows : 1;
    while (o + kRows <= last) run(std::integral_constant<size_t, kRows>{});
    while (o < last) run(std::integral_constant<size_t, 1>{});
  });
}

// A few tokens (2 .. kFewTokensMax - 1: a batched decode's one token per
// session), fp32: R rows against NT tokens over inputs [k0, k1) (multiples
// of 2L, the tokens' inputs in pair order), accumulating into acc[r][t],
// each row's 2L weights widened once for the NT tokens and each token vector
// loaded once for the R rows. Pair steps against the zero-extension and
// shift, 8-token exact qkv, Zen 4, old and new in turns: the AVX2 level one
// thread (CPU time) 4.64-5.01 -> 4.03-4.53 ms, 2 threads 2.40-2.73 ->
// 2.18-2.33; the AVX-512 level the same before and after (2.92-3.09,
// 1.52-1.83). Where `next` is set, the lines of R rows from there, at the
// same offsets, are asked for as these are read (few_token_rows says which),
// into L2: a tile ahead in L1 they pushed out the inputs' chunk and the rows
// being read (8-token qkv, Zen 4: exact 1.59-1.64 -> 1.43-1.47 ms, fast
// 1.44 -> 1.20-1.23).
template <size_t R, size_t NT>
void dot_tile_chunk(const bf16_t* w, size_t in, size_t k0, size_t k1, const float* const* x, Simd::Vec (*acc)[NT],
                    const bf16_t* next) {
  constexpr size_t L = Simd::kLanes;
  Simd::Vec sums[R][NT];
  for (size_t r = 0; r < R; ++r) {
    for (size_t t = 0; t < NT; ++t) sums[r][t] = acc[r][t];
  }
  for (size_t i = k0; i < k1; i += kPairStep) {
    if (next != nullptr && (i - k0) % kBf16PerLine == 0) {
      for (size_t r = 0; r < R; ++r) prefetch_to_l2_at(next + r * in + (i - k0));
    }
    Simd::Vec weights[2][R];
    for (size_t r = 0; r < R; ++r) Simd::load_bf16_pair(w + r * in + i, weights[0][r], weights[1][r]);
    for (size_t half = 0; half < 2; ++half) {
      Simd::Vec xv[NT];
      for (size_t t = 0; t < NT; ++t) xv[t] = Simd::load(x[t] + i + half * L);
      for (size_t r = 0; r < R; ++r) {
        for (size_t t = 0; t < NT; ++t) sums[r][t] = Simd::fmadd(weights[half][r], xv[t], sums[r][t]);
      }
    }
  }
  for (size_t r = 0; r < R; ++r) {
    for (size_t t = 0; t < NT; ++t) acc[r][t] = sums[r][t];
  }
}

// Bytes of a token block's inputs that few_token_rows keeps in L1 beside the
// streaming rows: the inputs are split into that many chunks. Four tokens'
// fp32 inputs of 2880 (46 KB) outgrew a 48 KB L1 and were read from L2 for
// every row tile; in four chunks of 720 the 8-token qkv product in exact
// numerics took 0.91-0.93 against 1.25 ms (standalone loop, 2 threads, Zen 4).
constexpr size_t kFewTokenInputBytes = 12 << 10;

// A few fp32 tokens (2 .. kFewTokensMax - 1) against the rows: parallel
// jobs of kDecodeRowBlock rows; in a job, blocks of up to kDecodeTokenBlock
// tokens; for a block, the inputs in chunks (kFewTokenInputBytes), and for a
// chunk, the job's rows Simd::kFewTokenRows at a time (single rows at the
// end) through dot_tile_chunk. The vector accumulators carry over from chunk
// to chunk, so every lane sums its inputs in order as one pass over the row
// would. Only the first token block prefetches (the next tile's or chunk's
// or job's rows, one tile ahead): the later blocks find the job's rows in
// L2, where the prefetches only cost load slots (8-token qkv, when fast
// numerics took these tiles in bf16, one thread: 1.79-1.84 against
// 1.93-1.98 ms). Inputs: token t's in pair order (pair_ordered_inputs),
// those past its whole pair steps summed one by one. y[t, o] (+)= sums + bias.
void few_token_rows(const MatmulArgs& a) {
  constexpr size_t TileRows = Simd::kFewTokenRows;
  const size_t vector_end = a.in - a.in % kPairStep;
  const CacheLineVector<float> ordered = pair_ordered_inputs(a);
  for_row_jobs<kDecodeTokenBlock>(a, [&](size_t first, size_t last, size_t t0, auto tokens) {
    constexpr size_t NT = decltype(tokens)::value;
    const float* inputs[NT];
    for (size_t j = 0; j < NT; ++j) inputs[j] = ordered.data() + (t0 + j) * a.in;
    const size_t block_bytes = vector_end * NT * sizeof(float);
    const size_t chunks = std::max<size_t>(1, (block_bytes + kFewTokenInputBytes - 1) / kFewTokenInputBytes);
    const size_t chunk_values = ((vector_end + chunks - 1) / chunks + kPairStep - 1) / kPairStep * kPairStep;
    Simd::Vec acc[kDecodeRowBlock][NT];
    for (auto& row : acc) {
      for (auto& v : row) v = Simd::zero();
    }
    for (size_t k0 = 0; k0 < vector_end; k0 += chunk_values) {
      const size_t k1 = std::min(k0 + chunk_values, vector_end);
      for (size_t o = first; o < last;) {
        const bool tile = o + TileRows <= last;
        const size_t rows = tile ? TileRows : 1;
        const bf16_t* next = nullptr;
        if (t0 == 0) {
          if (o + rows < last) {
            next = a.w + (o + rows) * a.in + k0;
          } else if (k1 < vector_end) {
            next = a.w + first * a.in + k1;
          } else if (last < a.out) {
            next = a.w + last * a.in;
          }
        }
        const bf16_t* w = a.w + o * a.in;
        if (tile) {
          dot_tile_chunk<TileRows, NT>(w, a.in, k0, k1, inputs, &acc[o - first], next);
        } else {
          dot_tile_chunk<1, NT>(w, a.in, k0, k1, inputs, &acc[o - first], next);
        }
        o += rows;
      }
    }
    for (size_t o = first; o < last; ++o) {
      for (size_t j = 0; j < NT; ++j) {
        float sum = Simd::sum(acc[o - first][j]);
        for (size_t k = vector_end; k < a.in; ++k) sum += inputs[j][k] * bf16_to_f32(a.w[o * a.in + k]);
        store_output(a, t0 + j, o, sum);
      }
    }
  });
}

// Tokens below which token_rows or few_token_rows take the product.
constexpr size_t kFewTokensMax = 16;

// Bytes of inputs that token_rows keeps in L1 beside the row stream: 4 bf16
// tokens of gpt-oss's 2880 inputs, 3 of its 4096 (4 of 4096, 32 KB, outgrew
// the 48 KB L1: the attention output for 8 tokens 1.43 against 0.93 ms), 2
// fp32 tokens of 2880.
constexpr size_t kTokenInputBytes = 24 << 10;
// Tokens a pass of token_rows takes at most: each takes 4 accumulators, of
// the level's 32 or 16 vector registers.
constexpr size_t kPassTokens = std::min<size_t>(kDecodeTokenBlock, Simd::kLanes / 4);
// Of the next job's lines, the share that each pass of token_rows after the
// first asks for ahead (one line per this many of the row's lines).
constexpr size_t kPassAheadEvery = 2;

// The tokens (x[t] at x + t * x_stride, of type Input) against the rows, a
// row at a time for every token: row_dot<NT>(w, inputs, sums, ahead) as
// dot_row, for one row w and NT inputs, in steps of step_bytes of weights
// (`work` a line).
// Parallel jobs of kDecodeRowBlock rows; in a job, passes of as many tokens
// as fit kTokenInputBytes, each over the job's rows in order. The first pass
// reads each thread's rows as one run of lines and, with several tokens,
// asks for each next row as it reads one (into L2). A core streams one run
// far faster than several: one thread on the Zen 4 VM read 33.5 GB/s from
// one run, 23-24 from 4 rows' half rows side by side, 18 from 2 whole rows,
// and one run with 4 tokens' inputs read beside it 15 without the rows asked
// for ahead, 28 with. The later passes find the job's rows in L2 and ask for
// a share of the next job's (kPassAheadEvery), so memory is not idle while
// they work. A single token's one run asks for its own lines
// lone_stream_ahead_bytes(work) ahead, where the CPU's prefetchers need it
// for such rows (Emerald Rapids VM, whole model, 2 threads: unembedding
// 20.1 -> 29.5, qkv 20.3 -> 27-28 GB/s, decode in turns 68-70 -> 81 % of
// the read); elsewhere software prefetches slowed the run. Fast qkv, 8
// tokens, 2 threads, Zen 4: 1.09-1.11 against 1.21-1.33 ms in register
// tiles of 4 rows by 4 tokens over half rows. y[t, o] (+)= sums + bias.
template <class Input, class RowDot>
void token_rows(const MatmulArgs& a, const Input* x, size_t x_stride, size_t step_bytes, RowWork work, RowDot row_dot) {
  const size_t pass_tokens = std::clamp<size_t>(kTokenInputBytes / (a.in * sizeof(Input)), 1, kPassTokens);
  const size_t passes = (a.n + pass_tokens - 1) / pass_tokens;
  const size_t row_bytes = a.in * sizeof(bf16_t), line_steps = std::max<size_t>(1, 64 / step_bytes);
  const size_t row_ahead_bytes = (row_bytes / 64 + kPassAheadEvery - 1) / kPassAheadEvery * 64;
  const size_t lone_ahead = a.n == 1 ? lone_stream_ahead_bytes(work) : 0;
  for_each_job((a.out + kDecodeRowBlock - 1) / kDecodeRowBlock, [&](size_t job) {
    const size_t first = job * kDecodeRowBlock, last = std::min(first + kDecodeRowBlock, a.out);
    const char* next_job = reinterpret_cast<const char*>(a.w + last * a.in);
    const size_t next_job_bytes = std::min(kDecodeRowBlock, a.out - last) * row_bytes;
    for (size_t pass = 0; pass < passes; ++pass) {
      const size_t t0 = pass * pass_tokens;
      with_count<kPassTokens>(std::min(pass_tokens, a.n - t0), [&](auto tokens) {
        constexpr size_t NT = decltype(tokens)::value;
        const Input* inputs[NT];
        for (size_t j = 0; j < NT; ++j) inputs[j] = x + (t0 + j) * x_stride;
        for (size_t o = first; o < last; ++o) {
          LinesAhead ahead;
          if (lone_ahead != 0) {
            ahead = LinesAhead{reinterpret_cast<const char*>(a.w + o * a.in) + lone_ahead, line_steps};
          } else if (pass == 0) {
            if (a.n > 1 && o + 1 < a.out) {
              ahead = LinesAhead{reinterpret_cast<const char*>(a.w + (o + 1) * a.in), line_steps};
            }
          } else {
            const size_t ahead_at = ((pass - 1) * kDecodeRowBlock + o - first) * row_ahead_bytes;
            if (ahead_at + row_ahead_bytes <= next_job_bytes) {
              ahead = LinesAhead{next_job + ahead_at, kPassAheadEvery * line_steps};
            }
          }
          float sums[NT];
          row_dot.template operator()<NT>(a.w + o * a.in, inputs, sums, ahead);
          for (size_t j = 0; j < NT; ++j) store_output(a, t0 + j, o, sums[j]);
        }
      });
    }
  });
}

// Weights small enough that a few fp32 tokens take token_rows rather than
// the tiles: the router's (32 x 2880 for gpt-oss, 184 KB), so that an expert
// choice never depends on the sessions beside a token; its few-token cost is
// the call's, not the rows'. Bigger matrices take the tiles: a row at a time
// for fp32 inputs ran 8-token qkv at 2.37 against 1.40 ms, the unembedding
// at 94 against 57 (2 threads, Zen 4): its passes fit 2 tokens in L1, not 4.
constexpr size_t kTokenRowsWeights = size_t{1} << 20;

// The matmul entry: under bf16_products, where the CPU has AVX512-BF16,
// fewer than kFewTokensMax tokens a row at a time (token_rows with
// bf16_dot_row); more, oneDNN's bf16 products where it has them natively.
// Otherwise fp32: one token, and a few against small weights, a row at a
// time (token_rows with dot_row); a few register tiles (few_token_rows with
// dot_tile_chunk); more, fp32 products of widened rows (matmul_widened).
template <class Products>
void matmul_with(const MatmulArgs& a) {
#if defined(OSSRT_CPU_Q15_ZMM)
  // Under bf16_products every token count takes bf16 products, as oneDNN's
  // for more tokens do, so a few sessions batched round their tokens'
  // products as each alone does (tiny-a amplifies a difference in that
  // rounding to logit differences over 1 within 14 steps). One token too:
  // a 64-byte line feeds one vdpbf16ps where widening it for fp32 FMAs takes
  // six operations, and with fewer operations waiting on each line a core
  // keeps more lines in flight (one thread, Zen 4: a standalone loop over
  // bf16 rows in memory 28-32 against 21-22 GB/s, qkv here 27.0 -> 29.0).
  if (a.n < kFewTokensMax && a.bf16_products && bf16_dot()) {
    CacheLineVector<bf16_t> x(a.n * a.in);  // the tokens rounded once
    for (size_t t = 0; t < a.n; ++t) round_to_bf16(a.x + t * a.x_stride, a.in, x.data() + t * a.in);
    return token_rows(a, x.data(), a.in, kBf16PerLine * sizeof(bf16_t), RowWork::bf16_products,
                      [&]<size_t NT>(const bf16_t* w, const bf16_t* const* tokens, float* sums, LinesAhead ahead) {
                        bf16_dot_row<NT>(w, a.in, tokens, sums, ahead);
                      });
  }
#endif
  if (a.bf16_products && a.n >= kPanelMinTokens && matmul_bf16_products<Products>(a)) return;
  if (a.n == 1 || (a.n < kFewTokensMax && a.out * a.in <= kTokenRowsWeights)) {
    const CacheLineVector<float> ordered = pair_ordered_inputs(a);
    constexpr RowWork kWork = Simd::kLanes == 16 ? RowWork::fp32_zmm : RowWork::fp32_ymm;
    return token_rows(a, ordered.data(), a.in, kPairStep * sizeof(bf16_t), kWork,
                      [&]<size_t NT>(const bf16_t* w, const float* const* tokens, float* sums, LinesAhead ahead) {
                        dot_row<NT>(w, tokens, a.in, sums, ahead);
                      });
  }
  if (a.n < kFewTokensMax) return few_token_rows(a);
  matmul_widened(a, [&](size_t r, float* dst) { widen_bf16(a.w + r * a.in, a.in, dst); });
}

}  // namespace

void matmul_f32_bf16w(void*, const MatmulArgs& a) {
  matmul_with<Bf16Matmul>(a);
}

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
