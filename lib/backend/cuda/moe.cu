// The router's top-k and the MXFP4 experts. Experts run as GEMVs over the
// chosen rows: stage 1 (one warp per mlp1 row of a (token, slot) pair), the
// SwiGLU (one warp per 32 activations), stage 2 (one warp per output of a
// token, the k slots summed in order, so results do not depend on timing).
// Numerics::fast quantizes each token's input and each pair's activation to
// Q15 blocks exactly as the reference does and sums integer products.
#include <cstdint>

#include "backend/cuda/cuda_context.cuh"
#include "backend/cuda/device_math.h"

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

// Q15 vectors: codes and one scale per 32 elements.
struct Q15 {
  int16_t* codes;
  float* scales;
};

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

// An MXFP4 row dotted with fp32 x; the warp's sum.
__device__ float mxfp4_dot(const uint8_t* blocks, const uint8_t* scales, size_t blocks_per_row, const float* x,
                           const Fp4Tables& tables, unsigned lane) {
  const auto* words = reinterpret_cast<const uint32_t*>(blocks);
  const size_t chunks = blocks_per_row * kChunksPerBlock;
  float sum = 0;
#pragma unroll 4
  for (size_t c = lane; c < chunks; c += kWarp) {
    const uint32_t w = __ldg(words + c);
    const float4 lo = *reinterpret_cast<const float4*>(x + c * kChunkElements);
    const float4 hi = *reinterpret_cast<const float4*>(x + c * kChunkElements + 4);
    const float* v = tables.value;
    const float part = v[w & 15u] * lo.x + v[(w >> 4) & 15u] * lo.y + v[(w >> 8) & 15u] * lo.z +
                       v[(w >> 12) & 15u] * lo.w + v[(w >> 16) & 15u] * hi.x + v[(w >> 20) & 15u] * hi.y +
                       v[(w >> 24) & 15u] * hi.z + v[w >> 28] * hi.w;
    sum += part * cuda_math::e8m0_scale(__ldg(scales + c / kChunksPerBlock));
  }
  return warp_sum(sum);
}

// The same row against a Q15 vector: each block's products summed exactly as
// int32 (the 4 lanes of a block combine theirs), then scaled once per block.
__device__ float mxfp4_dot_q15(const uint8_t* blocks, const uint8_t* scales, size_t blocks_per_row,
                               const int16_t* codes, const float* vector_scales, const Fp4Tables& tables,
                               unsigned lane) {
  const auto* words = reinterpret_cast<const uint32_t*>(blocks);
  const size_t chunks = blocks_per_row * kChunksPerBlock;
  float sum = 0;
  // Whole warps per step (no lane leaves early): the shuffles need all 32.
#pragma unroll 2
  for (size_t first = 0; first < chunks; first += kWarp) {
    const size_t c = first + lane;
    int32_t products = 0;
    if (c < chunks) {
      const uint32_t w = __ldg(words + c);
      const uint4 q = *reinterpret_cast<const uint4*>(codes + c * kChunkElements);
      const uint32_t pairs[4] = {q.x, q.y, q.z, q.w};
      const int* twice = tables.twice;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int low = static_cast<int16_t>(pairs[i] & 0xffffu), high = static_cast<int32_t>(pairs[i]) >> 16;
        products += twice[(w >> (8 * i)) & 15u] * low + twice[(w >> (8 * i + 4)) & 15u] * high;
      }
    }
    products += __shfl_xor_sync(0xffffffffu, products, 1);
    products += __shfl_xor_sync(0xffffffffu, products, 2);
    if (c < chunks && lane % kChunksPerBlock == 0) {
      const size_t b = c / kChunksPerBlock;
      sum += cuda_math::q15_block_result(products, vector_scales[b], __ldg(scales + b));
    }
  }
  return warp_sum(sum);
}

// Stage 1: h[pair, r] = W1[e] row r . x[t] + b1[e, r], one warp per row.
__global__ void mlp1_kernel(MoeArgs a, Q15 x_q15) {
  __shared__ Fp4Tables tables;
  fill_fp4_tables(tables);
  const size_t rows = 2 * a.intermediate;
  const size_t warp = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) / kWarp;
  if (warp >= a.n * a.k * rows) return;
  const size_t pair = warp / rows, r = warp % rows, t = pair / a.k;
  const size_t e = static_cast<size_t>(a.expert_ids[pair]);
  const size_t blocks_per_row = a.hidden / kBlockElements, row = e * rows + r;
  const uint8_t* blocks = a.w1_blocks + row * blocks_per_row * kBlockBytes;
  const uint8_t* scales = a.w1_scales + row * blocks_per_row;
  const unsigned lane = threadIdx.x % kWarp;
  const float dot = a.q15_inputs ? mxfp4_dot_q15(blocks, scales, blocks_per_row, x_q15.codes + t * a.hidden,
                                                 x_q15.scales + t * blocks_per_row, tables, lane)
                                 : mxfp4_dot(blocks, scales, blocks_per_row, a.x + t * a.hidden, tables, lane);
  if (lane == 0) a.scratch[pair * 3 * a.intermediate + r] = dot + bf16_to_float(a.b1[row]);
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

// Stage 2: y[t, r] += sum over slots of weight * (W2[e] row r . act + b2[e, r]).
__global__ void mlp2_kernel(MoeArgs a, Q15 act_q15) {
  __shared__ Fp4Tables tables;
  fill_fp4_tables(tables);
  const size_t I = a.intermediate, H = a.hidden;
  const size_t warp = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) / kWarp;
  if (warp >= a.n * H) return;
  const size_t t = warp / H, r = warp % H;
  const size_t blocks_per_row = I / kBlockElements;
  const unsigned lane = threadIdx.x % kWarp;
  float total = 0;
  for (size_t s = 0; s < a.k; ++s) {
    const size_t pair = t * a.k + s;
    const size_t e = static_cast<size_t>(a.expert_ids[pair]);
    const size_t row = e * H + r;
    const uint8_t* blocks = a.w2_blocks + row * blocks_per_row * kBlockBytes;
    const uint8_t* scales = a.w2_scales + row * blocks_per_row;
    const float dot = a.q15_inputs
                          ? mxfp4_dot_q15(blocks, scales, blocks_per_row, act_q15.codes + pair * I,
                                          act_q15.scales + pair * blocks_per_row, tables, lane)
                          : mxfp4_dot(blocks, scales, blocks_per_row, a.scratch + pair * 3 * I + 2 * I, tables, lane);
    total += a.expert_weights[pair] * (dot + bf16_to_float(a.b2[row]));
  }
  if (lane == 0) a.y[t * H + r] += total;
}

unsigned warp_blocks(size_t warps) {
  return blocks_for(warps, kBlockWarps);
}

}  // namespace

void router_topk_f32(void* self, const float* logits, size_t n, size_t experts, size_t k, int32_t* ids,
                     float* weights) {
  Context& c = context_of(self);
  if (n == 0 || k == 0) return;
  c.run(CallSignature(uint64_t(Entry::router)).add(logits, n, experts, k, ids, weights).value(),
        [=, &c] { router_kernel<<<blocks_for(n, 128), 128, 0, c.stream>>>(logits, n, experts, k, ids, weights); });
}

namespace {

// The launches of one MoE call, on the instance's stream.
void launch_moe(Context& c, const MoeArgs& a) {
  const size_t pairs = a.n * a.k, I = a.intermediate, H = a.hidden;
  // Fast numerics' Q15 copies of the inputs and activations: stream-ordered
  // scratch, freed once the kernels that read it have run.
  Q15 x_q15{}, act_q15{};
  void* q15_memory = nullptr;
  if (a.q15_inputs) {
    const size_t x_codes = a.n * H, act_codes = pairs * I;
    const size_t bytes =
        (x_codes + act_codes) * sizeof(int16_t) + (x_codes + act_codes) / kBlockElements * sizeof(float);
    if (cudaError_t status = cudaMallocAsync(&q15_memory, bytes, c.stream); status != cudaSuccess) {
      c.check(status);
      return;
    }
    // Codes first: their rows are read 16 bytes at a time.
    auto* codes = static_cast<int16_t*>(q15_memory);
    auto* scales = reinterpret_cast<float*>(codes + x_codes + act_codes);
    x_q15 = {codes, scales};
    act_q15 = {codes + x_codes, scales + x_codes / kBlockElements};
    quantize_rows_kernel<<<warp_blocks(x_codes / kBlockElements), kBlockThreads, 0, c.stream>>>(a.x, a.n, H, H, x_q15);
    c.check_launch();
  }
  mlp1_kernel<<<warp_blocks(pairs * 2 * I), kBlockThreads, 0, c.stream>>>(a, x_q15);
  c.check_launch();
  activation_kernel<<<warp_blocks(pairs * I / kBlockElements), kBlockThreads, 0, c.stream>>>(a, act_q15);
  c.check_launch();
  mlp2_kernel<<<warp_blocks(a.n * H), kBlockThreads, 0, c.stream>>>(a, act_q15);
  c.check_launch();
  if (q15_memory != nullptr) c.check(cudaFreeAsync(q15_memory, c.stream));
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
