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

// Per token: the k best logits by repeated selection, then their softmax.
__global__ void router_kernel(const float* logits, size_t n, size_t experts, size_t k, int32_t* ids, float* weights) {
  const size_t t = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (t >= n) return;
  const float* g = logits + t * experts;
  int32_t* chosen = ids + t * k;
  float* w = weights + t * k;
  for (size_t s = 0; s < k; ++s) {
    int best = -1;
    for (size_t e = 0; e < experts; ++e) {
      bool taken = false;
      for (size_t p = 0; p < s; ++p) taken |= chosen[p] == static_cast<int32_t>(e);
      if (!taken && cuda_math::router_prefers(g[e], static_cast<int>(e), best < 0 ? 0.0f : g[best], best))
        best = static_cast<int>(e);
    }
    chosen[s] = best;
    w[s] = g[best];
  }
  const float top = w[0];
  float sum = 0;
  for (size_t s = 0; s < k; ++s) sum += (w[s] = expf(w[s] - top));
  for (size_t s = 0; s < k; ++s) w[s] /= sum;
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

// An MXFP4 row (blocks_per_row blocks of 16 code bytes and a scale byte each)
// dotted with fp32 x, lanes striding over the blocks; the warp's sum.
__device__ float mxfp4_dot(const uint8_t* blocks, const uint8_t* scales, size_t blocks_per_row, const float* x,
                           unsigned lane) {
  float sum = 0;
  for (size_t b = lane; b < blocks_per_row; b += kWarp) {
    const uint4 packed = __ldg(reinterpret_cast<const uint4*>(blocks + b * kBlockBytes));
    const uint32_t words[4] = {packed.x, packed.y, packed.z, packed.w};
    const float* xb = x + b * kBlockElements;
    float block_sum = 0;
#pragma unroll
    for (int byte = 0; byte < 16; ++byte) {
      const unsigned value = (words[byte / 4] >> (8 * (byte % 4))) & 0xffu;
      block_sum +=
          cuda_math::fp4_value(value & 0x0fu) * xb[2 * byte] + cuda_math::fp4_value(value >> 4) * xb[2 * byte + 1];
    }
    sum += block_sum * cuda_math::e8m0_scale(scales[b]);
  }
  for (unsigned offset = kWarp / 2; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  return sum;
}

// The same row against a Q15 vector: each block's products summed exactly as
// integers (codes doubled), then scaled.
__device__ float mxfp4_dot_q15(const uint8_t* blocks, const uint8_t* scales, size_t blocks_per_row,
                               const int16_t* codes, const float* vector_scales, unsigned lane) {
  float sum = 0;
  for (size_t b = lane; b < blocks_per_row; b += kWarp) {
    const uint4 packed = __ldg(reinterpret_cast<const uint4*>(blocks + b * kBlockBytes));
    const uint32_t words[4] = {packed.x, packed.y, packed.z, packed.w};
    const int16_t* xb = codes + b * kBlockElements;
    int32_t products = 0;
#pragma unroll
    for (int byte = 0; byte < 16; ++byte) {
      const unsigned value = (words[byte / 4] >> (8 * (byte % 4))) & 0xffu;
      products += cuda_math::fp4_twice_value(value & 0x0fu) * xb[2 * byte] +
                  cuda_math::fp4_twice_value(value >> 4) * xb[2 * byte + 1];
    }
    sum += cuda_math::q15_block_result(products, vector_scales[b], scales[b]);
  }
  for (unsigned offset = kWarp / 2; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  return sum;
}

// Stage 1: h[pair, r] = W1[e] row r . x[t] + b1[e, r], one warp per row.
__global__ void mlp1_kernel(MoeArgs a, Q15 x_q15) {
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
                                                 x_q15.scales + t * blocks_per_row, lane)
                                 : mxfp4_dot(blocks, scales, blocks_per_row, a.x + t * a.hidden, lane);
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
    const float dot = a.q15_inputs ? mxfp4_dot_q15(blocks, scales, blocks_per_row, act_q15.codes + pair * I,
                                                   act_q15.scales + pair * blocks_per_row, lane)
                                   : mxfp4_dot(blocks, scales, blocks_per_row, a.scratch + pair * 3 * I + 2 * I, lane);
    total += a.expert_weights[pair] * (dot + bf16_to_float(a.b2[row]));
  }
  if (lane == 0) a.y[t * H + r] += total;
}

unsigned warp_blocks(size_t warps) {
  return blocks_for(warps, kBlockWarps);
}

}  // namespace

void moe_activation(Context& c, const MoeArgs& a, Q15 act_q15) {
  const size_t warps = a.n * a.k * a.intermediate / kBlockElements;
  activation_kernel<<<warp_blocks(warps), kBlockThreads, 0, c.stream>>>(a, act_q15);
  c.check_launch();
}

void router_topk_f32(void* self, const float* logits, size_t n, size_t experts, size_t k, int32_t* ids,
                     float* weights) {
  Context& c = context_of(self);
  if (n == 0 || k == 0) return;
  c.enter();
  router_kernel<<<blocks_for(n, 128), 128, 0, c.stream>>>(logits, n, experts, k, ids, weights);
  c.check_launch();
}

void moe_mxfp4_f32(void* self, const MoeArgs& a) {
  Context& c = context_of(self);
  const size_t pairs = a.n * a.k, I = a.intermediate, H = a.hidden;
  if (pairs == 0) return;
  // The kernels read a block's 16 code bytes in one load: the tensors come
  // from prepare_weights or alloc, both 256-byte aligned.
  if (reinterpret_cast<uintptr_t>(a.w1_blocks) % 16 != 0 || reinterpret_cast<uintptr_t>(a.w2_blocks) % 16 != 0) {
    c.check(cudaErrorMisalignedAddress);
    return;
  }
  c.enter();
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
    auto* scales = static_cast<float*>(q15_memory);
    auto* codes = reinterpret_cast<int16_t*>(scales + (x_codes + act_codes) / kBlockElements);
    x_q15 = {codes, scales};
    act_q15 = {codes + x_codes, scales + x_codes / kBlockElements};
    quantize_rows_kernel<<<warp_blocks(x_codes / kBlockElements), kBlockThreads, 0, c.stream>>>(a.x, a.n, H, H, x_q15);
    c.check_launch();
  }
  if (moe_grouped_applies(a)) {  // prefill-sized batches: grouped by expert (moe_grouped.cu)
    moe_mxfp4_grouped(c, a, x_q15, act_q15);
    if (q15_memory != nullptr) c.check(cudaFreeAsync(q15_memory, c.stream));
    return;
  }
  mlp1_kernel<<<warp_blocks(pairs * 2 * I), kBlockThreads, 0, c.stream>>>(a, x_q15);
  c.check_launch();
  moe_activation(c, a, act_q15);
  mlp2_kernel<<<warp_blocks(a.n * H), kBlockThreads, 0, c.stream>>>(a, act_q15);
  c.check_launch();
  if (q15_memory != nullptr) c.check(cudaFreeAsync(q15_memory, c.stream));
}

}  // namespace ossrt::cuda
