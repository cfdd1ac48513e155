// Causal GQA attention with per-head sinks, dense or banded, over an fp32 or
// bf16 cache (dense or ring). One block per (query, head); its warps take
// every eighth visible key with an online softmax each (split-K inside the
// block, flash-decoding style), and the warps' states are merged with the
// sink at the end. No score matrix is materialised.
#include "backend/cuda/cuda_context.cuh"
#include "backend/cuda/device_math.h"

namespace ossrt::cuda {

namespace {

using cuda_math::bf16_to_float;
using cuda_math::SoftmaxState;

constexpr size_t kMaxHeadDim = 256;
constexpr size_t kMaxPerLane = kMaxHeadDim / kWarp;

template <KvType Type>
__device__ inline float cache_at(const void* cache, size_t index) {
  if constexpr (Type == KvType::f32) {
    return static_cast<const float*>(cache)[index];
  } else {
    return bf16_to_float(static_cast<const bf16_t*>(cache)[index]);
  }
}

template <KvType Type>
__global__ void __launch_bounds__(kBlockThreads) attention_kernel(AttentionArgs a, const int64_t* step) {
  __shared__ float warp_max[kBlockWarps], warp_denominator[kBlockWarps];
  __shared__ float warp_out[kBlockWarps][kMaxHeadDim];
  const size_t h = blockIdx.x, t = blockIdx.y;
  const unsigned lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const size_t group = a.q_heads / a.kv_heads, kv_width = a.kv_heads * a.head_dim;
  const size_t kv_offset = (h / group) * a.head_dim;
  const size_t position = position_at(step, a.first_position) + t;
  const size_t first_key = first_visible_key(position, a.window);
  const size_t per_lane = (a.head_dim + kWarp - 1) / kWarp;
  const float* q = a.q + t * a.q_stride + h * a.head_dim;

  float qv[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
  for (size_t c = 0; c < kMaxPerLane; ++c) {
    const size_t d = lane + c * kWarp;
    qv[c] = c < per_lane && d < a.head_dim ? q[d] : 0.0f;
    acc[c] = 0.0f;
  }
  float running_max = -INFINITY, denominator = 0.0f;
  for (size_t j = first_key + warp; j <= position; j += kBlockWarps) {
    const size_t row = kv_slot(j, a.capacity, a.ring) * kv_width + kv_offset;
    float partial = 0.0f;
#pragma unroll
    for (size_t c = 0; c < kMaxPerLane; ++c) {
      const size_t d = lane + c * kWarp;
      if (c < per_lane && d < a.head_dim) partial += qv[c] * cache_at<Type>(a.k_cache, row + d);
    }
    const float score = warp_sum(partial) * a.scale;
    const float new_max = fmaxf(running_max, score);
    const float rescale = expf(running_max - new_max), p = expf(score - new_max);
    denominator = denominator * rescale + p;
#pragma unroll
    for (size_t c = 0; c < kMaxPerLane; ++c) {
      const size_t d = lane + c * kWarp;
      if (c < per_lane && d < a.head_dim) acc[c] = acc[c] * rescale + p * cache_at<Type>(a.v_cache, row + d);
    }
    running_max = new_max;
  }
  if (lane == 0) {
    warp_max[warp] = running_max;
    warp_denominator[warp] = denominator;
  }
#pragma unroll
  for (size_t c = 0; c < kMaxPerLane; ++c) {
    const size_t d = lane + c * kWarp;
    if (c < per_lane && d < a.head_dim) warp_out[warp][d] = acc[c];
  }
  __syncthreads();
  // The sink opens the merge: it adds exp(sink - max) to the denominator and
  // nothing to the output.
  if (warp != 0) return;
  SoftmaxState merged{bf16_to_float(a.sinks[h]), 1.0f};
  float out[kMaxPerLane] = {};
  for (unsigned w = 0; w < kBlockWarps; ++w) {
    const SoftmaxState part{warp_max[w], warp_denominator[w]};
    const cuda_math::MergeFactors f = cuda_math::softmax_merge_factors(merged, part);
    merged = {f.merged_max, merged.denominator * f.left + part.denominator * f.right};
#pragma unroll
    for (size_t c = 0; c < kMaxPerLane; ++c) {
      const size_t d = lane + c * kWarp;
      if (c < per_lane && d < a.head_dim) out[c] = out[c] * f.left + warp_out[w][d] * f.right;
    }
  }
  float* result = a.out + t * a.out_stride + h * a.head_dim;
#pragma unroll
  for (size_t c = 0; c < kMaxPerLane; ++c) {
    const size_t d = lane + c * kWarp;
    if (c < per_lane && d < a.head_dim) result[d] = out[c] / merged.denominator;
  }
}

}  // namespace

void attention_f32(void* self, const AttentionArgs& a) {
  Context& c = context_of(self);
  if (a.n * a.q_heads == 0) return;
  if (a.head_dim > kMaxHeadDim || a.kv_heads == 0 || a.n > 65535) {
    c.check(cudaErrorInvalidValue);  // no gpt-oss shape reaches these limits
    return;
  }
  c.run(signature_of(a), [a, &c, position = c.position_source()] {
    const dim3 grid(static_cast<unsigned>(a.q_heads), static_cast<unsigned>(a.n));
    if (a.kv_type == KvType::f32)
      attention_kernel<KvType::f32><<<grid, kBlockThreads, 0, c.stream>>>(a, position);
    else
      attention_kernel<KvType::bf16><<<grid, kBlockThreads, 0, c.stream>>>(a, position);
  });
}

}  // namespace ossrt::cuda
