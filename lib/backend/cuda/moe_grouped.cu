// Prefill's experts grouped by expert: the (token, slot) pairs are sorted by
// expert on the device, and each expert multiplies its pairs as one GEMM
// whose weight tiles are decoded once per 64 pairs instead of once per pair.
//
// Why (gpt-oss-20b: H = I = 2880, 32 experts, top-4). One pair costs
// 2 * (2I * H + H * I) = 50 MFLOP and meets 13.2 MB of MXFP4 rows (W1 8.8 MB,
// W2 4.4 MB, 0.53 bytes per weight with the scales). The GEMV path streams
// those bytes per pair: at 4.8 TB/s at best 2.7 us per pair, 0.26 ms per
// token over 24 layers, and 4.7 ms as measured (prefill at 205 tok/s). Here a
// weight byte read from memory meets up to 64 pairs, 240 FLOP per byte, where
// the H200 balances fp32 FMA (67 TFLOP/s) against memory at 14 FLOP per byte:
// the GEMMs are bound by arithmetic. 2048 tokens are 9.8 TFLOP of expert
// products; the 0.3 ms per token target asks for 16 TFLOP/s, a quarter of
// the fp32 peak, from 64 x 128 tiles where each thread does 32 FMAs per
// three 16-byte shared loads (measured: 25 to 30 TFLOP/s exact, 21 to 25
// fast). An expert's weights are read about once per row of its tiles (the
// row's column tiles run side by side and share the pairs' inputs through
// L2): for 2048 pairs 64 rows x 13.2 MB, 0.2 ms per layer against 4 ms of
// arithmetic.
//
// Steps, all on the stream, no host synchronization: group (one block: pair
// counts per expert, their prefix sums, a stable permutation and the list of
// 64-pair tiles), mlp1 (grouped GEMM into scratch[pair, 0..2I), where the
// GEMV path writes it), the SwiGLU shared with moe.cu, mlp2 (grouped GEMM
// into a per-pair buffer, bias included), then the weighted sum over each
// token's slots in slot order. Every output is one dot product in depth
// order whatever tile its pair lands in, so results do not depend on timing.
//
// Numerics: exact mode decodes each weight to fp32 (value * 2^(scale - 127),
// exact) and sums fp32 products in depth order, as the reference does.
// Fast mode (Q15 inputs) keeps the reference's integer block products: the
// codes are stored as floats, and a 32-deep depth tile is one MXFP4 and one
// Q15 block whose products (|code| <= 16256 times twice an E2M1 value,
// |.| <= 12) and their sums stay below 2^24, so fp32 holds them exactly;
// each block's sum is then scaled by the vector's scale times 2^(row scale -
// 128), which is what ldexp gives, as in mxfp4_dot_q15.
#include <climits>
#include <cstdint>

#include "backend/cuda/cuda_context.cuh"
#include "backend/cuda/device_math.h"
#include "backend/cuda/moe_grouped.cuh"

namespace ossrt::cuda {

namespace {

using cuda_math::bf16_to_float;

constexpr size_t kBlockElements = 32, kBlockBytes = 16;

// Below this many pairs (16 tokens of top-4) the GEMV path stays: decode
// and short appends keep what the GEMVs' rewrite gains there. A tile decodes
// its 128 x 32 weights however few pairs it holds, so this path has a floor
// of about 1.5 ms per layer up to 32 tokens (gpt-oss-20b on the H200; 0.33
// ms for 1 token, 4.1 ms for 512, 13.4 ms for 2048). The GEMVs as they are
// now take 0.4 ms per token at every batch (15 tokens: 5.8 ms), so from 16
// tokens on this path is 4 times faster; a GEMV at memory bandwidth (about
// 3 us per pair, 12 us per token) would by estimate stay ahead up to about
// 128 tokens: measure again when the GEMVs change.
constexpr size_t kGroupedMinPairs = 64;

// Expert ids are grouped in a table of this many counts: gpt-oss has 32 or
// 128 experts. Pairs whose id is outside [0, kMaxExperts) are left out of
// every group (nothing is written for them) and turn their token's outputs
// into NaN.
constexpr int kMaxExperts = 256;
constexpr unsigned kGroupThreads = 1024, kGroupWarps = kGroupThreads / kWarp;

// GEMM tiles: 64 pairs of one expert x 128 output rows, 32 deep (one MXFP4
// block); 256 threads, each 4 pairs x 8 rows.
constexpr unsigned kTilePairs = 64, kTileRows = 128, kTileDepth = 32;
constexpr unsigned kThreadPairs = 4, kThreadRows = 8;
static_assert(kTileDepth == kBlockElements, "a depth tile is one MXFP4 (and Q15) block");
static_assert((kTilePairs / kThreadPairs) * (kTileRows / kThreadRows) == kBlockThreads, "one thread per 4 x 8");

// A run of up to kTilePairs pairs of one expert: perm[begin, begin + count).
struct Tile {
  int expert, begin, count;
};

// Slots for the device's tile list: sum over experts of ceil(pairs_e / 64)
// is at most pairs / 64 rounded up plus one partial tile per expert present.
size_t tile_slots(size_t pairs) {
  return (pairs + kTilePairs - 1) / kTilePairs + (pairs < kMaxExperts ? pairs : kMaxExperts);
}

// One block: counts pairs per expert, writes each expert's tiles and a
// permutation of the pair indices ordered by expert, ascending within one
// (a counting sort over chunks of 1024 pairs: ranks within a warp from
// __match_any_sync, then the warps' runs in warp order per expert).
__global__ void __launch_bounds__(kGroupThreads)
    group_kernel(const int32_t* ids, int pairs, int32_t* perm, Tile* tiles, int* tile_count) {
  __shared__ int cursor[kMaxExperts];             // pairs per expert, then where its next pair goes
  __shared__ int runs[kGroupWarps][kMaxExperts];  // a chunk's pairs per (warp, expert), then their first slot
  const unsigned lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  for (unsigned i = threadIdx.x; i < kMaxExperts; i += kGroupThreads) cursor[i] = 0;
  for (unsigned i = threadIdx.x; i < kGroupWarps * kMaxExperts; i += kGroupThreads)
    runs[i / kMaxExperts][i % kMaxExperts] = 0;
  __syncthreads();
  for (int p = static_cast<int>(threadIdx.x); p < pairs; p += kGroupThreads) {
    const int32_t id = ids[p];
    if (id >= 0 && id < kMaxExperts) atomicAdd(&cursor[id], 1);
  }
  __syncthreads();
  // One warp: each lane scans 8 experts' counts and tile counts, the warp
  // adds up the lanes' totals, and each lane writes its experts' tiles.
  constexpr int kPerLane = kMaxExperts / kWarp;
  if (warp == 0) {
    int pair_total = 0, tile_total = 0;
    for (int j = 0; j < kPerLane; ++j) {
      const int count = cursor[lane * kPerLane + j];
      pair_total += count;
      tile_total += (count + static_cast<int>(kTilePairs) - 1) / static_cast<int>(kTilePairs);
    }
    int pair_first = pair_total, tile_first = tile_total;  // inclusive, then exclusive
    for (unsigned offset = 1; offset < kWarp; offset *= 2) {
      const int pairs_before = __shfl_up_sync(0xffffffffu, pair_first, offset);
      const int tiles_before = __shfl_up_sync(0xffffffffu, tile_first, offset);
      if (lane >= offset) {
        pair_first += pairs_before;
        tile_first += tiles_before;
      }
    }
    if (lane == kWarp - 1) *tile_count = tile_first;
    pair_first -= pair_total;
    tile_first -= tile_total;
    for (int j = 0; j < kPerLane; ++j) {
      const int e = static_cast<int>(lane) * kPerLane + j, count = cursor[e];
      for (int first = 0; first < count; first += kTilePairs) {
        const int rest = count - first;
        tiles[tile_first++] = {e, pair_first + first, min(rest, static_cast<int>(kTilePairs))};
      }
      cursor[e] = pair_first;
      pair_first += count;
    }
  }
  __syncthreads();
  for (int chunk = 0; chunk < pairs; chunk += kGroupThreads) {
    const int p = chunk + static_cast<int>(threadIdx.x);
    const int32_t id = p < pairs ? ids[p] : -1;
    const bool grouped = id >= 0 && id < kMaxExperts;
    const unsigned peers = __match_any_sync(0xffffffffu, grouped ? id : -1);
    const int rank = __popc(peers & ((1u << lane) - 1));
    if (grouped && rank == 0) runs[warp][id] = __popc(peers);
    __syncthreads();
    for (unsigned e = threadIdx.x; e < kMaxExperts; e += kGroupThreads) {
      int next = cursor[e];
      for (unsigned w = 0; w < kGroupWarps; ++w) {
        const int count = runs[w][e];
        runs[w][e] = next;
        next += count;
      }
      cursor[e] = next;
    }
    __syncthreads();
    if (grouped) perm[runs[warp][id] + rank] = p;
    __syncthreads();
    for (unsigned i = threadIdx.x; i < kGroupWarps * kMaxExperts; i += kGroupThreads)
      runs[i / kMaxExperts][i % kMaxExperts] = 0;
    __syncthreads();
  }
}

// One expert layer over grouped pairs: out[p * out_stride + r] =
// W[e] row r . input(p) + bias[e, r] for every pair p of every tile.
struct GroupedLinear {
  const float* x;  // fp32 inputs: pair p's at x + (p / divisor) * x_stride
  size_t x_stride;
  Q15 x_q15;  // Q15 inputs (fast numerics): row p / divisor, `depth` codes each
  size_t divisor;
  const uint8_t* blocks;  // [E, rows, depth / 32, 16]
  const uint8_t* scales;  // [E, rows, depth / 32]
  const bf16_t* bias;     // [E, rows]
  size_t rows, depth;
  float* out;
  size_t out_stride;
  const int32_t* perm;
  const Tile* tiles;
  const int* tile_count;
};

// What one thread carries from global memory into the next depth tile: 8
// inputs of its pair (floats, or Q15 codes and the block's scale) and 16
// FP4 codes of its row with the row's scale byte.
struct Staged {
  float x[8];
  uint32_t codes[4];  // 8 Q15 codes
  float x_scale;
  uint2 w;
  uint8_t w_scale;
};

// Twice the E2M1 value of a 4-bit code (cuda_math::fp4_twice_value), as a
// float without an integer conversion (those run at a quarter of the FMA
// rate): the magnitude from a nibble table, made a float by adding it to
// 2^23's mantissa, the sign bit copied. Code 8 gives -0, as the reference.
__device__ inline float fp4_twice_float(unsigned code) {
  const unsigned magnitude = (0xC8643210u >> ((code & 7u) * 4)) & 0xfu;
  const float value = __uint_as_float(0x4B000000u | magnitude) - 8388608.0f;
  return __uint_as_float(__float_as_uint(value) | (code & 8u) << 28);
}

// A Q15 code (|code| <= 16256) as a float, by the same mantissa trick.
__device__ inline float q15_float(int code) {
  return __uint_as_float(0x4B400000u + static_cast<unsigned>(code)) - 12582912.0f;
}

// acc[i][j] += sum over the 32 depths d, in order, of xs[d][ty * 4 + i] times
// ws[d][tx * 4 + j] (j < 4) or ws[d][64 + tx * 4 + j - 4] (j >= 4).
__device__ inline void tile_products(const float (&xs)[kTileDepth][kTilePairs],
                                     const float (&ws)[kTileDepth][kTileRows], unsigned tx, unsigned ty,
                                     float (&acc)[kThreadPairs][kThreadRows]) {
#pragma unroll
  for (unsigned d = 0; d < kTileDepth; ++d) {
    const float4 xv = *reinterpret_cast<const float4*>(&xs[d][ty * 4]);
    const float4 wa = *reinterpret_cast<const float4*>(&ws[d][tx * 4]);
    const float4 wb = *reinterpret_cast<const float4*>(&ws[d][kTileRows / 2 + tx * 4]);
    const float xr[kThreadPairs] = {xv.x, xv.y, xv.z, xv.w};
    const float wr[kThreadRows] = {wa.x, wa.y, wa.z, wa.w, wb.x, wb.y, wb.z, wb.w};
#pragma unroll
    for (unsigned i = 0; i < kThreadPairs; ++i)
#pragma unroll
      for (unsigned j = 0; j < kThreadRows; ++j) acc[i][j] += xr[i] * wr[j];
  }
}

// Thread (tx, ty) of a block holds pairs ty * 4 + i and rows tx * 4 + j and
// 64 + tx * 4 + j (two 16-byte runs, so that the 8 tx of a warp read 128
// consecutive bytes); a warp is 8 tx x 4 ty.
template <bool kQ15>
__global__ void __launch_bounds__(kBlockThreads, 2) grouped_linear_kernel(GroupedLinear g) {
  if (static_cast<int>(blockIdx.y) >= *g.tile_count) return;
  const Tile tile = g.tiles[blockIdx.y];
  const size_t row0 = static_cast<size_t>(blockIdx.x) * kTileRows;
  __shared__ __align__(16) float xs[kTileDepth][kTilePairs];  // inputs (Q15: codes), depth-major
  __shared__ __align__(16) float ws[kTileDepth][kTileRows];   // weights (Q15: twice the E2M1 values)
  __shared__ __align__(16) float x_scales[kTilePairs];        // Q15: the blocks' scales
  __shared__ __align__(16) float w_scales[kTileRows];

  // Loading: 8 of the 32 inputs of pair load_pair, 16 of the 32 weights of
  // row load_row; a warp covers 32 consecutive pairs or rows, so its shared
  // stores hit 32 banks.
  const unsigned load_pair = threadIdx.x % kTilePairs, load_part = threadIdx.x / kTilePairs;
  const unsigned load_row = threadIdx.x % kTileRows, load_half = threadIdx.x / kTileRows;
  const bool pair_ok = static_cast<int>(load_pair) < tile.count;
  const bool row_ok = row0 + load_row < g.rows;
  const size_t input = pair_ok ? static_cast<size_t>(g.perm[tile.begin + static_cast<int>(load_pair)]) / g.divisor : 0;
  const size_t blocks_per_row = g.depth / kBlockElements;
  const size_t w_row = static_cast<size_t>(tile.expert) * g.rows + (row_ok ? row0 + load_row : 0);
  const uint8_t* w_blocks = g.blocks + w_row * blocks_per_row * kBlockBytes + load_half * (kBlockBytes / 2);
  const uint8_t* w_scale_bytes = g.scales + w_row * blocks_per_row;

  const auto load = [&](size_t b, Staged& s) {
    if constexpr (kQ15) {
      // 4-byte loads: the codes follow the scales in moe.cu's allocation,
      // 4-byte aligned only.
      const auto* src =
          reinterpret_cast<const uint32_t*>(g.x_q15.codes + input * g.depth + b * kBlockElements + load_part * 8);
      for (int j = 0; j < 4; ++j) s.codes[j] = pair_ok ? __ldg(src + j) : 0u;
      s.x_scale = pair_ok ? __ldg(g.x_q15.scales + input * blocks_per_row + b) : 0.0f;
    } else {
      const float* src = g.x + input * g.x_stride + b * kBlockElements + load_part * 8;
      const float4 lo = pair_ok ? __ldg(reinterpret_cast<const float4*>(src)) : float4{};
      const float4 hi = pair_ok ? __ldg(reinterpret_cast<const float4*>(src + 4)) : float4{};
      s.x[0] = lo.x, s.x[1] = lo.y, s.x[2] = lo.z, s.x[3] = lo.w;
      s.x[4] = hi.x, s.x[5] = hi.y, s.x[6] = hi.z, s.x[7] = hi.w;
    }
    // Rows past the layer's are zero codes: they add nothing and are not stored.
    s.w = row_ok ? __ldg(reinterpret_cast<const uint2*>(w_blocks + b * kBlockBytes)) : uint2{};
    s.w_scale = row_ok ? __ldg(w_scale_bytes + b) : uint8_t{127};
  };
  const auto store = [&](const Staged& s) {
    if constexpr (kQ15) {
      for (unsigned j = 0; j < 8; ++j)
        xs[load_part * 8 + j][load_pair] = q15_float(static_cast<int16_t>(s.codes[j / 2] >> (16 * (j % 2)) & 0xffffu));
      if (load_part == 0) x_scales[load_pair] = s.x_scale;
    } else {
      for (unsigned j = 0; j < 8; ++j) xs[load_part * 8 + j][load_pair] = s.x[j];
    }
    // Exact: the reference's value * 2^(s - 127), both factors exact (so
    // 0 * 2^128 is NaN there too); Q15: twice the value, scaled per block.
    const float w_scale = cuda_math::e8m0_scale(s.w_scale);
    for (unsigned j = 0; j < 16; ++j) {
      const unsigned byte = ((j / 2 < 4 ? s.w.x : s.w.y) >> (8 * (j / 2 % 4))) & 0xffu;
      const float twice = fp4_twice_float(j % 2 == 0 ? byte & 0x0fu : byte >> 4);
      ws[load_half * 16 + j][load_row] = kQ15 ? twice : twice * 0.5f * w_scale;
    }
    // Q15: the reference's ldexp(vector scale, row scale - 128) is the
    // vector scale times this power of two (exact, subnormal or not).
    if (kQ15 && load_half == 0) w_scales[load_row] = ldexpf(1.0f, static_cast<int>(s.w_scale) - 128);
  };

  const unsigned warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const unsigned tx = (warp % 2) * 8 + lane % 8, ty = (warp / 2) * 4 + lane / 8;
  // A warp whose 16 pairs are all past the tile's count skips the products.
  const bool warp_busy = static_cast<int>((warp / 2) * 16) < tile.count;
  float sum[kThreadPairs][kThreadRows] = {};
  Staged staged;
  load(0, staged);
  for (size_t b = 0; b < blocks_per_row; ++b) {
    store(staged);
    __syncthreads();
    if (b + 1 < blocks_per_row) load(b + 1, staged);  // in flight during the products
    if (warp_busy) {
      if constexpr (kQ15) {
        // The block's integer products (exact in fp32), then its scales.
        float block[kThreadPairs][kThreadRows] = {};
        tile_products(xs, ws, tx, ty, block);
        const float4 xv = *reinterpret_cast<const float4*>(&x_scales[ty * 4]);
        const float4 wa = *reinterpret_cast<const float4*>(&w_scales[tx * 4]);
        const float4 wb = *reinterpret_cast<const float4*>(&w_scales[kTileRows / 2 + tx * 4]);
        const float xr[kThreadPairs] = {xv.x, xv.y, xv.z, xv.w};
        const float wr[kThreadRows] = {wa.x, wa.y, wa.z, wa.w, wb.x, wb.y, wb.z, wb.w};
#pragma unroll
        for (unsigned i = 0; i < kThreadPairs; ++i)
#pragma unroll
          for (unsigned j = 0; j < kThreadRows; ++j) sum[i][j] += block[i][j] * (xr[i] * wr[j]);
      } else {
        tile_products(xs, ws, tx, ty, sum);
      }
    }
    __syncthreads();
  }

  const size_t e = static_cast<size_t>(tile.expert);
  for (unsigned i = 0; i < kThreadPairs; ++i) {
    const int slot = static_cast<int>(ty * 4 + i);
    if (slot >= tile.count) continue;
    float* dst = g.out + static_cast<size_t>(g.perm[tile.begin + slot]) * g.out_stride;
    for (unsigned half = 0; half < 2; ++half) {
      // rows is a multiple of 32: a run of 4 is in or out as a whole.
      const size_t r = row0 + half * (kTileRows / 2) + tx * 4;
      if (r >= g.rows) continue;
      const bf16_t* bias = g.bias + e * g.rows + r;
      const float* s = sum[i] + half * 4;
      *reinterpret_cast<float4*>(dst + r) = {s[0] + bf16_to_float(bias[0]), s[1] + bf16_to_float(bias[1]),
                                             s[2] + bf16_to_float(bias[2]), s[3] + bf16_to_float(bias[3])};
    }
  }
}

// y[t, r..r+3] += sum over slots s in order of weight[t, s] * out2[t * k + s, r..r+3].
__global__ void combine_kernel(MoeArgs a, const float* out2) {
  const size_t quads = a.hidden / 4, job = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (job >= a.n * quads) return;
  const size_t t = job / quads, q = job % quads;
  float4 total{0, 0, 0, 0};
  for (size_t s = 0; s < a.k; ++s) {
    const size_t pair = t * a.k + s;
    const int32_t id = a.expert_ids[pair];
    const float w = a.expert_weights[pair];
    // A pair left out of the groups has no output: NaN, not stale memory.
    const float4 v = id >= 0 && id < kMaxExperts ? reinterpret_cast<const float4*>(out2 + pair * a.hidden)[q]
                                                 : float4{NAN, NAN, NAN, NAN};
    total.x += w * v.x;
    total.y += w * v.y;
    total.z += w * v.z;
    total.w += w * v.w;
  }
  float4& y = reinterpret_cast<float4*>(a.y + t * a.hidden)[q];
  y = {y.x + total.x, y.y + total.y, y.z + total.z, y.w + total.w};
}

void launch_grouped_linear(Context& c, const GroupedLinear& g, bool q15, size_t slots) {
  const dim3 grid(blocks_for(g.rows, kTileRows), static_cast<unsigned>(slots));
  if (q15)
    grouped_linear_kernel<true><<<grid, kBlockThreads, 0, c.stream>>>(g);
  else
    grouped_linear_kernel<false><<<grid, kBlockThreads, 0, c.stream>>>(g);
  c.check_launch();
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

}  // namespace

bool moe_grouped_applies(const MoeArgs& a) {
  const size_t pairs = a.n * a.k;
  // The tile list is the grid's y extent; pair indices are ints.
  return pairs >= kGroupedMinPairs && pairs <= INT_MAX && tile_slots(pairs) <= 65535 && aligned16(a.x) &&
         aligned16(a.scratch) && aligned16(a.y);
}

void moe_mxfp4_grouped(Context& c, const MoeArgs& a, Q15 x_q15, Q15 act_q15) {
  const size_t pairs = a.n * a.k, H = a.hidden, I = a.intermediate, slots = tile_slots(pairs);
  // Stream-ordered scratch: mlp2's per-pair outputs, the tiles, the
  // permutation and the tile count, freed once the kernels have run.
  const size_t out2_bytes = pairs * H * sizeof(float), tile_bytes = slots * sizeof(Tile);
  void* memory = nullptr;
  if (cudaError_t status =
          cudaMallocAsync(&memory, out2_bytes + tile_bytes + pairs * sizeof(int32_t) + sizeof(int), c.stream);
      status != cudaSuccess) {
    c.check(status);
    return;
  }
  auto* out2 = static_cast<float*>(memory);
  auto* tiles = reinterpret_cast<Tile*>(static_cast<char*>(memory) + out2_bytes);
  auto* perm = reinterpret_cast<int32_t*>(tiles + slots);
  int* tile_count = perm + pairs;
  group_kernel<<<1, kGroupThreads, 0, c.stream>>>(a.expert_ids, static_cast<int>(pairs), perm, tiles, tile_count);
  c.check_launch();
  const GroupedLinear mlp1{a.x,   H, x_q15,     a.k,   a.w1_blocks, a.w1_scales, a.b1,
                           2 * I, H, a.scratch, 3 * I, perm,        tiles,       tile_count};
  launch_grouped_linear(c, mlp1, a.q15_inputs, slots);
  moe_activation(c, a, act_q15);
  const GroupedLinear mlp2{
      a.scratch + 2 * I, 3 * I, act_q15, 1, a.w2_blocks, a.w2_scales, a.b2, H, I, out2, H, perm, tiles, tile_count};
  launch_grouped_linear(c, mlp2, a.q15_inputs, slots);
  combine_kernel<<<blocks_for(a.n * H / 4, kBlockThreads), kBlockThreads, 0, c.stream>>>(a, out2);
  c.check_launch();
  c.check(cudaFreeAsync(memory, c.stream));
}

}  // namespace ossrt::cuda
