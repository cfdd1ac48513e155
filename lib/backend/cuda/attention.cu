// Causal GQA attention with per-head sinks, dense or banded, over an fp32 or
// bf16 cache (dense or ring). One block per (query, head, key split); its
// warps take every eighth key of the split with an online softmax each, and
// the warps' states are merged. With one split (prefill, banded layers) the
// block adds the sink and writes the output; decode over a long dense cache
// splits the keys over many blocks (flash-decoding) whose states a second
// kernel merges with the sink. No score matrix is materialised.
#include <algorithm>

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

// A split's merged state: max, denominator, then head_dim weighted sums.
__device__ inline float* partial_record(float* partials, const AttentionArgs& a, size_t t, size_t h, size_t split) {
  return partials + ((t * a.q_heads + h) * gridDim.z + split) * (2 + a.head_dim);
}

template <KvType Type>
__global__ void __launch_bounds__(kBlockThreads)
    attention_kernel(AttentionArgs a, const int64_t* step, float* partials) {
  __shared__ float warp_max[kBlockWarps], warp_denominator[kBlockWarps];
  __shared__ float warp_out[kBlockWarps][kMaxHeadDim];
  const size_t h = blockIdx.x, t = blockIdx.y;
  const unsigned lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const size_t group = a.q_heads / a.kv_heads, kv_width = a.kv_heads * a.head_dim;
  const size_t kv_offset = (h / group) * a.head_dim;
  const size_t position = select_kv_row(a, t, step);
  // This block's share of the visible keys (an empty share is a state with
  // no keys, which the merge skips).
  const size_t first_visible = first_visible_key(position, a.window);
  const size_t per_split = (position - first_visible + gridDim.z) / gridDim.z;
  const size_t first_key = first_visible + blockIdx.z * per_split;
  const size_t end_key = min(first_key + per_split, position + 1);
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
  for (size_t j = first_key + warp; j < end_key; j += kBlockWarps) {
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
  // nothing to the output. Split blocks leave it to the merge kernel.
  if (warp != 0) return;
  SoftmaxState merged =
      partials == nullptr ? SoftmaxState{bf16_to_float(a.sinks[h]), 1.0f} : SoftmaxState{-INFINITY, 0.0f};
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
  if (partials != nullptr) {
    float* record = partial_record(partials, a, t, h, blockIdx.z);
    if (lane == 0) {
      record[0] = merged.max;
      record[1] = merged.denominator;
    }
#pragma unroll
    for (size_t c = 0; c < kMaxPerLane; ++c) {
      const size_t d = lane + c * kWarp;
      if (c < per_lane && d < a.head_dim) record[2 + d] = out[c];
    }
    return;
  }
  float* result = a.out + t * a.out_stride + h * a.head_dim;
#pragma unroll
  for (size_t c = 0; c < kMaxPerLane; ++c) {
    const size_t d = lane + c * kWarp;
    if (c < per_lane && d < a.head_dim) result[d] = out[c] / merged.denominator;
  }
}

// One warp per (query, head): the sink, then every split's state in order.
__global__ void merge_splits_kernel(AttentionArgs a, const float* partials, unsigned splits) {
  const size_t job = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) / kWarp;
  const unsigned lane = threadIdx.x % kWarp;
  if (job >= a.n * a.q_heads) return;
  const size_t t = job / a.q_heads, h = job % a.q_heads;
  const size_t per_lane = (a.head_dim + kWarp - 1) / kWarp;
  SoftmaxState merged{bf16_to_float(a.sinks[h]), 1.0f};
  float out[kMaxPerLane] = {};
  for (unsigned z = 0; z < splits; ++z) {
    const float* record = partials + ((t * a.q_heads + h) * splits + z) * (2 + a.head_dim);
    const SoftmaxState part{record[0], record[1]};
    const cuda_math::MergeFactors f = cuda_math::softmax_merge_factors(merged, part);
    merged = {f.merged_max, merged.denominator * f.left + part.denominator * f.right};
#pragma unroll
    for (size_t c = 0; c < kMaxPerLane; ++c) {
      const size_t d = lane + c * kWarp;
      if (c < per_lane && d < a.head_dim) out[c] = out[c] * f.left + record[2 + d] * f.right;
    }
  }
  float* result = a.out + t * a.out_stride + h * a.head_dim;
#pragma unroll
  for (size_t c = 0; c < kMaxPerLane; ++c) {
    const size_t d = lane + c * kWarp;
    if (c < per_lane && d < a.head_dim) result[d] = out[c] / merged.denominator;
  }
}

// Key splits for a call: decode over a long span gets a block per 256 keys
// of the span the cache can hold (fixed per call shape, so a recorded step
// replays at any position; blocks past the visible keys exit at once).
// Batched rows' caches are in device memory, so their split count is fixed;
// each block still divides its own row's visible keys.
unsigned key_splits(const AttentionArgs& a) {
  constexpr size_t kKeysPerSplit = 256, kMaxSplits = 64, kMaxDecodeRows = 4;
  constexpr size_t kBatchedSplits = 16, kMaxBatchedRows = 64;
  if (a.rows != nullptr) return a.n <= kMaxBatchedRows ? kBatchedSplits : 1;
  if (a.n > kMaxDecodeRows) return 1;
  const size_t span = a.window > 0 ? std::min(a.window, a.capacity) : a.capacity;
  return static_cast<unsigned>(std::clamp<size_t>((span + kKeysPerSplit - 1) / kKeysPerSplit, 1, kMaxSplits));
}

template <KvType Type>
void launch_attention(Context& c, const AttentionArgs& a, const int64_t* position) {
  const unsigned splits = key_splits(a);
  const dim3 grid(static_cast<unsigned>(a.q_heads), static_cast<unsigned>(a.n), splits);
  if (splits == 1) {
    attention_kernel<Type><<<grid, kBlockThreads, 0, c.stream>>>(a, position, nullptr);
    return;
  }
  void* partials = nullptr;
  const size_t bytes = a.n * a.q_heads * splits * (2 + a.head_dim) * sizeof(float);
  if (cudaError_t status = cudaMallocAsync(&partials, bytes, c.stream); status != cudaSuccess) {
    c.check(status);
    return;
  }
  attention_kernel<Type><<<grid, kBlockThreads, 0, c.stream>>>(a, position, static_cast<float*>(partials));
  c.check_launch();
  merge_splits_kernel<<<blocks_for(a.n * a.q_heads, kBlockWarps), kBlockThreads, 0, c.stream>>>(
      a, static_cast<const float*>(partials), splits);
  c.check_launch();
  c.check(cudaFreeAsync(partials, c.stream));
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
    if (a.kv_type == KvType::f32)
      launch_attention<KvType::f32>(c, a, position);
    else
      launch_attention<KvType::bf16>(c, a, position);
  });
}

}  // namespace ossrt::cuda
