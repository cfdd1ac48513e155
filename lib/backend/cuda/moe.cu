// The router's top-k and the MXFP4 experts. Experts run as GEMVs over the
// chosen rows: stage 1 (one warp per mlp1 row of a (token, slot) pair), the
// SwiGLU (one warp per 32 activations), stage 2 (one warp per output of a
// token, the k slots summed in order, so results do not depend on timing).
// Numerics::fast quantizes each token's input and each pair's activation to
// Q15 blocks exactly as the reference does and sums integer products.
#include <cstdint>

#include "backend/cuda/cuda_context.cuh"
#include "backend/cuda/device_math.h"
#include "backend/cuda/moe_grouped.cuh"

namespace ossrt::cuda {

namespace {

using cuda_math::bf16_to_float;

constexpr size_t kBlockElements = 32, kBlockBytes = 16;

// Per token, one warp: k rounds of a warp-wide arg-max over the experts not
// yet taken (each lane holds every 32nd expert's logit and a taken mask in
// registers), then the softmax over the k values.
constexpr size_t kMaxExpertsPerLane = 8;  // 256 experts; gpt-oss has 32 or 128

__global__ void router_kernel(const float* logits, size_t n, size_t experts, size_t k, int32_t* ids, float* weights) {
  const size_t t = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) / kWarp;
  const unsigned lane = threadIdx.x % kWarp;
  if (t >= n) return;
  const float* g = logits + t * experts;
  float mine[kMaxExpertsPerLane];
  unsigned taken = 0;
#pragma unroll
  for (size_t j = 0; j < kMaxExpertsPerLane; ++j) mine[j] = lane + j * kWarp < experts ? g[lane + j * kWarp] : 0.0f;
  float top = 0, sum = 0;
  for (size_t s = 0; s < k; ++s) {
    // This lane's best untaken expert, then the warp's (lower id on ties).
    float best = 0;
    int best_id = -1;
#pragma unroll
    for (size_t j = 0; j < kMaxExpertsPerLane; ++j) {
      const int id = static_cast<int>(lane + j * kWarp);
      if (static_cast<size_t>(id) < experts && (taken & (1u << j)) == 0 &&
          cuda_math::router_prefers(mine[j], id, best, best_id)) {
        best = mine[j];
        best_id = id;
      }
    }
    for (unsigned offset = kWarp / 2; offset > 0; offset /= 2) {
      const float other = __shfl_xor_sync(0xffffffffu, best, offset);
      const int other_id = __shfl_xor_sync(0xffffffffu, best_id, offset);
      if (other_id >= 0 && cuda_math::router_prefers(other, other_id, best, best_id)) {
        best = other;
        best_id = other_id;
      }
    }
    if (best_id >= 0 && static_cast<unsigned>(best_id) % kWarp == lane) taken |= 1u << (best_id / kWarp);
    if (s == 0) top = best;
    // Softmax over the k values, relative to the largest (the first).
    const float e = expf(best - top);
    sum += e;
    if (lane == 0) {
      ids[t * k + s] = best_id;
      weights[t * k + s] = e;
    }
  }
  __syncwarp();
  if (lane == 0)
    for (size_t s = 0; s < k; ++s) weights[t * k + s] /= sum;
}

// One warp per 32-element block of `count` vectors of `width` (rows `stride`
// floats apart): each lane quantizes its element with the block's |max|.
__device__ void quantize_block(const float* x, size_t block, Q15 out, unsigned lane) {
  const float v = x[lane];
  float amax = fabsf(v);
  for (unsigned offset = kWarp / 2; offset > 0; offset /= 2)
    amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, offset));
  const bool all_finite = __all_sync(0xffffffffu, cuda_math::is_finite(v));
  const float inverse = cuda_math::q15_inverse(amax);
  const bool usable = cuda_math::q15_usable(all_finite, inverse);
  out.codes[block * kBlockElements + lane] = usable ? cuda_math::q15_code(v, inverse) : 0;
  if (lane == 0) out.scales[block] = usable ? cuda_math::q15_scale(amax) : cuda_math::q15_scale_unusable(all_finite);
}

__global__ void quantize_rows_kernel(const float* x, size_t count, size_t width, size_t stride, Q15 out) {
  const size_t warp = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) / kWarp;
  const size_t blocks_per_row = width / kBlockElements;
  if (warp >= count * blocks_per_row) return;
  const size_t row = warp / blocks_per_row, b = warp % blocks_per_row;
  quantize_block(x + row * stride + b * kBlockElements, warp, out, threadIdx.x % kWarp);
}

// The 16 E2M1 values (exact numerics) and their doubles (Q15 integer
// products), looked up in shared memory: lanes reading different entries hit
// different banks, the same entry is a broadcast.
struct Fp4Tables {
  float value[16];
  int twice[16];
};

__device__ void fill_fp4_tables(Fp4Tables& tables) {
  if (threadIdx.x < 16) {
    tables.value[threadIdx.x] = cuda_math::fp4_value(threadIdx.x);
    tables.twice[threadIdx.x] = cuda_math::fp4_twice_value(threadIdx.x);
  }
  __syncthreads();
}

// A row's code bytes are read 4 at a time (8 elements) by consecutive lanes,
// so a warp reads 128 contiguous bytes of weights and 1 KiB of contiguous
// input per step; 4 lanes share one 32-element block and its scale.
constexpr size_t kChunkElements = 8, kChunksPerBlock = kBlockElements / kChunkElements;

// Rows consecutive MXFP4 rows (blocks_per_row blocks each) dotted with fp32
// x; every lane gets each row's sum. A warp streams the rows side by side so
// that more loads are in flight and each input chunk is read once for all.
template <size_t Rows>
__device__ void mxfp4_rows_dot(const uint8_t* blocks, const uint8_t* scales, size_t blocks_per_row, const float* x,
                               const Fp4Tables& tables, unsigned lane, float (&out)[Rows]) {
  const auto* words = reinterpret_cast<const uint32_t*>(blocks);
  const size_t chunks = blocks_per_row * kChunksPerBlock;
  float sum[Rows] = {};
#pragma unroll 2
  for (size_t c = lane; c < chunks; c += kWarp) {
    uint32_t w[Rows];
    uint8_t scale[Rows];
#pragma unroll
    for (size_t r = 0; r < Rows; ++r) {
      w[r] = __ldg(words + r * chunks + c);
      scale[r] = __ldg(scales + r * blocks_per_row + c / kChunksPerBlock);
    }
    const float4 lo = *reinterpret_cast<const float4*>(x + c * kChunkElements);
    const float4 hi = *reinterpret_cast<const float4*>(x + c * kChunkElements + 4);
    const float* v = tables.value;
#pragma unroll
    for (size_t r = 0; r < Rows; ++r) {
      const uint32_t b = w[r];
      const float part = v[b & 15u] * lo.x + v[(b >> 4) & 15u] * lo.y + v[(b >> 8) & 15u] * lo.z +
                         v[(b >> 12) & 15u] * lo.w + v[(b >> 16) & 15u] * hi.x + v[(b >> 20) & 15u] * hi.y +
                         v[(b >> 24) & 15u] * hi.z + v[b >> 28] * hi.w;
      sum[r] += part * cuda_math::e8m0_scale(scale[r]);
    }
  }
#pragma unroll
  for (size_t r = 0; r < Rows; ++r) out[r] = warp_sum(sum[r]);
}

// The same rows against a Q15 vector: each block's products summed exactly
// as int32 (the 4 lanes of a block combine theirs), then scaled once.
template <size_t Rows>
__device__ void mxfp4_rows_dot_q15(const uint8_t* blocks, const uint8_t* scales, size_t blocks_per_row,
                                   const int16_t* codes, const float* vector_scales, const Fp4Tables& tables,
                                   unsigned lane, float (&out)[Rows]) {
  const auto* words = reinterpret_cast<const uint32_t*>(blocks);
  const size_t chunks = blocks_per_row * kChunksPerBlock;
  float sum[Rows] = {};
  // Whole warps per step (no lane leaves early): the shuffles need all 32.
  for (size_t first = 0; first < chunks; first += kWarp) {
    const size_t c = first + lane;
    const bool active = c < chunks;
    int32_t products[Rows] = {};
    if (active) {
      uint32_t w[Rows];
#pragma unroll
      for (size_t r = 0; r < Rows; ++r) w[r] = __ldg(words + r * chunks + c);
      const uint4 q = *reinterpret_cast<const uint4*>(codes + c * kChunkElements);
      const uint32_t packed[4] = {q.x, q.y, q.z, q.w};
      const int* twice = tables.twice;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int low = static_cast<int16_t>(packed[i] & 0xffffu), high = static_cast<int32_t>(packed[i]) >> 16;
#pragma unroll
        for (size_t r = 0; r < Rows; ++r)
          products[r] += twice[(w[r] >> (8 * i)) & 15u] * low + twice[(w[r] >> (8 * i + 4)) & 15u] * high;
      }
    }
#pragma unroll
    for (size_t r = 0; r < Rows; ++r) {
      products[r] += __shfl_xor_sync(0xffffffffu, products[r], 1);
      products[r] += __shfl_xor_sync(0xffffffffu, products[r], 2);
      if (active && lane % kChunksPerBlock == 0) {
        const size_t b = c / kChunksPerBlock;
        sum[r] += cuda_math::q15_block_result(products[r], vector_scales[b], __ldg(scales + r * blocks_per_row + b));
      }
    }
  }
#pragma unroll
  for (size_t r = 0; r < Rows; ++r) out[r] = warp_sum(sum[r]);
}

// Rows of one expert's matrix handled by one warp (the matrices' row counts,
// 2I and H, are multiples of 32).
constexpr size_t kRowsPerWarp = 4;

// Rows r..r+3 of expert e's matrix (`rows` x `inputs`) dotted with one input
// vector (fp32, or Q15 under fast numerics).
__device__ void expert_rows_dot(const MoeArgs& a, bool mlp1, size_t e, size_t r, const float* x, const int16_t* codes,
                                const float* vector_scales, const Fp4Tables& tables, unsigned lane,
                                float (&out)[kRowsPerWarp]) {
  const size_t rows = mlp1 ? 2 * a.intermediate : a.hidden, inputs = mlp1 ? a.hidden : a.intermediate;
  const size_t blocks_per_row = inputs / kBlockElements, row = e * rows + r;
  const uint8_t* blocks = (mlp1 ? a.w1_blocks : a.w2_blocks) + row * blocks_per_row * kBlockBytes;
  const uint8_t* scales = (mlp1 ? a.w1_scales : a.w2_scales) + row * blocks_per_row;
  if (a.q15_inputs)
    mxfp4_rows_dot_q15<kRowsPerWarp>(blocks, scales, blocks_per_row, codes, vector_scales, tables, lane, out);
  else
    mxfp4_rows_dot<kRowsPerWarp>(blocks, scales, blocks_per_row, x, tables, lane, out);
}

// Stage 1: h[pair, r] = W1[e] row r . x[t] + b1[e, r], one warp per 4 rows.
__global__ void mlp1_kernel(MoeArgs a, Q15 x_q15) {
  __shared__ Fp4Tables tables;
  fill_fp4_tables(tables);
  const size_t rows = 2 * a.intermediate, groups = rows / kRowsPerWarp;
  const size_t warp = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) / kWarp;
  if (warp >= a.n * a.k * groups) return;
  const size_t pair = warp / groups, r = (warp % groups) * kRowsPerWarp, t = pair / a.k;
  const size_t e = static_cast<size_t>(a.expert_ids[pair]);
  const unsigned lane = threadIdx.x % kWarp;
  const size_t blocks_per_row = a.hidden / kBlockElements;
  float dot[kRowsPerWarp];
  expert_rows_dot(a, true, e, r, a.x + t * a.hidden, x_q15.codes + t * a.hidden, x_q15.scales + t * blocks_per_row,
                  tables, lane, dot);
  if (lane < kRowsPerWarp)
    a.scratch[pair * 3 * a.intermediate + r + lane] = dot[lane] + bf16_to_float(a.b1[e * rows + r + lane]);
}

// SwiGLU of each (glu, linear) pair into scratch[pair, 2I..3I), one warp per
// 32 activations, quantized there as well under fast numerics.
__global__ void activation_kernel(MoeArgs a, Q15 act_q15) {
  const size_t I = a.intermediate, blocks_per_pair = I / kBlockElements;
  const size_t warp = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) / kWarp;
  if (warp >= a.n * a.k * blocks_per_pair) return;
  const size_t pair = warp / blocks_per_pair, b = warp % blocks_per_pair;
  const unsigned lane = threadIdx.x % kWarp;
  const float* h = a.scratch + pair * 3 * I;
  float* act = a.scratch + pair * 3 * I + 2 * I + b * kBlockElements;
  const size_t j = b * kBlockElements + lane;
  act[lane] = cuda_math::swiglu(h[2 * j], h[2 * j + 1], a.swiglu_limit);
  __syncwarp();
  if (a.q15_inputs) quantize_block(act, warp, act_q15, lane);
}

// Stage 2 per pair: out[pair, r] = W2[e] row r . act[pair], one warp per 4
// rows (the slots of a token in parallel; they are summed in order below).
__global__ void mlp2_kernel(MoeArgs a, Q15 act_q15, float* pair_out) {
  __shared__ Fp4Tables tables;
  fill_fp4_tables(tables);
  const size_t I = a.intermediate, H = a.hidden, groups = H / kRowsPerWarp;
  const size_t warp = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) / kWarp;
  if (warp >= a.n * a.k * groups) return;
  const size_t pair = warp / groups, r = (warp % groups) * kRowsPerWarp;
  const size_t e = static_cast<size_t>(a.expert_ids[pair]);
  const unsigned lane = threadIdx.x % kWarp;
  float dot[kRowsPerWarp];
  expert_rows_dot(a, false, e, r, a.scratch + pair * 3 * I + 2 * I, act_q15.codes + pair * I,
                  act_q15.scales + pair * (I / kBlockElements), tables, lane, dot);
  if (lane < kRowsPerWarp) pair_out[pair * H + r + lane] = dot[lane];
}

// y[t, r] += sum over the slots, in order, of weight * (out[pair, r] + b2[e, r]).
__global__ void combine_slots_kernel(MoeArgs a, const float* pair_out) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= a.n * a.hidden) return;
  const size_t t = i / a.hidden, r = i % a.hidden;
  float total = 0;
  for (size_t s = 0; s < a.k; ++s) {
    const size_t pair = t * a.k + s;
    const size_t e = static_cast<size_t>(a.expert_ids[pair]);
    total += a.expert_weights[pair] * (pair_out[pair * a.hidden + r] + bf16_to_float(a.b2[e * a.hidden + r]));
  }
  a.y[i] += total;
}

unsigned warp_blocks(size_t warps) {
  return blocks_for(warps, kBlockWarps);
}

}  // namespace

void quantize_q15_rows(Context& c, const float* x, size_t count, size_t width, size_t stride, Q15 out) {
  const size_t blocks = count * width / kBlockElements;
  if (blocks == 0) return;
  quantize_rows_kernel<<<warp_blocks(blocks), kBlockThreads, 0, c.stream>>>(x, count, width, stride, out);
  c.check_launch();
}

void moe_activation(Context& c, const MoeArgs& a, Q15 act_q15) {
  const size_t warps = a.n * a.k * a.intermediate / kBlockElements;
  activation_kernel<<<warp_blocks(warps), kBlockThreads, 0, c.stream>>>(a, act_q15);
  c.check_launch();
}

void router_topk_f32(void* self, const float* logits, size_t n, size_t experts, size_t k, int32_t* ids,
                     float* weights) {
  Context& c = context_of(self);
  if (n == 0 || k == 0) return;
  c.run(CallSignature(uint64_t(Entry::router)).add(logits, n, experts, k, ids, weights).value(), [=, &c] {
    router_kernel<<<blocks_for(n, kBlockWarps), kBlockThreads, 0, c.stream>>>(logits, n, experts, k, ids, weights);
  });
}

namespace {

// The launches of one MoE call, on the instance's stream.
void launch_moe(Context& c, const MoeArgs& a) {
  const size_t pairs = a.n * a.k, I = a.intermediate, H = a.hidden;
  // Stream-ordered scratch, freed once the kernels that read it have ran:
  // each pair's stage-2 outputs, and under fast numerics the Q15 copies of
  // the inputs and activations (codes first: read 16 bytes at a time).
  // Prefill-sized batches take tiled GEMMs over each expert's pairs
  // (moe_grouped.cu), which keep their own stage-2 outputs.
  const bool grouped = moe_grouped_applies(a);
  const size_t x_codes = a.q15_inputs ? a.n * H : 0, act_codes = a.q15_inputs ? pairs * I : 0;
  const size_t outputs = grouped ? 0 : pairs * H;
  const size_t bytes = outputs * sizeof(float) + (x_codes + act_codes) * sizeof(int16_t) +
                       (x_codes + act_codes) / kBlockElements * sizeof(float);
  void* memory = nullptr;  // none needed: grouped, exact numerics
  if (cudaError_t status = bytes > 0 ? cudaMallocAsync(&memory, bytes, c.stream) : cudaSuccess; status != cudaSuccess) {
    c.check(status);
    return;
  }
  auto* pair_out = static_cast<float*>(memory);
  auto* codes = reinterpret_cast<int16_t*>(pair_out + outputs);
  auto* scales = reinterpret_cast<float*>(codes + x_codes + act_codes);
  Q15 x_q15{}, act_q15{};  // null under exact numerics
  if (a.q15_inputs) {
    x_q15 = {codes, scales};
    act_q15 = {codes + x_codes, scales + x_codes / kBlockElements};
    quantize_q15_rows(c, a.x, a.n, H, H, x_q15);
  }
  if (grouped) {
    moe_mxfp4_grouped(c, a, x_q15, act_q15);
    if (memory != nullptr) c.check(cudaFreeAsync(memory, c.stream));
    return;
  }
  mlp1_kernel<<<warp_blocks(pairs * 2 * I / kRowsPerWarp), kBlockThreads, 0, c.stream>>>(a, x_q15);
  c.check_launch();
  moe_activation(c, a, act_q15);
  mlp2_kernel<<<warp_blocks(pairs * H / kRowsPerWarp), kBlockThreads, 0, c.stream>>>(a, act_q15, pair_out);
  c.check_launch();
  combine_slots_kernel<<<blocks_for(a.n * H, kBlockThreads), kBlockThreads, 0, c.stream>>>(a, pair_out);
  c.check_launch();
  c.check(cudaFreeAsync(memory, c.stream));
}

}  // namespace

void moe_mxfp4_f32(void* self, const MoeArgs& a) {
  Context& c = context_of(self);
  if (a.n * a.k == 0) return;
  // The kernels read a block's 16 code bytes in one load: the tensors come
  // from prepare_weights or alloc, both 256-byte aligned.
  if (reinterpret_cast<uintptr_t>(a.w1_blocks) % 16 != 0 || reinterpret_cast<uintptr_t>(a.w2_blocks) % 16 != 0) {
    c.check(cudaErrorMisalignedAddress);
    return;
  }
  c.run(signature_of(a), [a, &c] { launch_moe(c, a); });
}

}  // namespace ossrt::cuda
