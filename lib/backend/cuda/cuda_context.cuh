// One CUDA backend instance (internal to backend/cuda/): its device and
// stream, the first device failure, and the weights it placed. The kernel
// files launch on the instance's stream and file launch failures here.
#pragma once

#include <cuda_runtime.h>

#include <functional>
#include <mutex>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/call_signature.h"
#include "backend/cuda/device_math.h"

namespace ossrt::cuda {

// How kernel entries run: at once (outside a step bracket), or inside one,
// recorded into a graph (the bracket's key has no recording yet) or only
// noted (a recording exists and will be replayed at the bracket's end).
enum class StepMode { eager, recording, replaying };

struct Context {
  int device = 0;
  cudaStream_t stream = nullptr;
  std::mutex mutex;                   // guards failure and placed_weights
  cudaError_t failure = cudaSuccess;  // the first failure; sticky
  std::vector<void*> placed_weights;  // freed by destroy

  // --- step bracket (cuda_backend.cu) ---
  // Held by the bracket's thread from begin_step to end_step, and by every
  // entry for its call, so another thread's work never lands in a recording.
  std::recursive_mutex step_mutex;
  StepMode mode = StepMode::eager;
  uint64_t step_key = 0, step_signature = 0;
  int64_t* step_position = nullptr;  // device scalar: the bracket's position
  // The bracket's launches, kept to run them one by one where no recording
  // can be used (its signature differs, or recording failed).
  std::vector<std::function<void()>> step_calls;
  struct Recording {
    uint64_t key, signature, last_use;
    cudaGraphExec_t exec;
  };
  std::vector<Recording> recordings;
  uint64_t use_clock = 0;

  // Makes this instance's device current on the calling thread (the runtime
  // keeps one current device per host thread).
  void enter() const { cudaSetDevice(device); }
  // Files a failed call (or the last launch's error) and keeps the first.
  void check(cudaError_t status);
  void check_launch() { check(cudaGetLastError()); }

  // Where kernels read the step's position: null outside a bracket (they use
  // their arguments' first_position), the device scalar inside one.
  const int64_t* position_source() const { return mode == StepMode::eager ? nullptr : step_position; }

  // Runs one entry's launches (a callable taking no arguments, copied when
  // kept) according to the mode; `signature` identifies the call.
  template <class Launch>
  void run(uint64_t signature, const Launch& launch) {
    std::lock_guard<std::recursive_mutex> lock(step_mutex);
    enter();
    if (mode != StepMode::eager) {
      step_signature = step_signature * 0x9e3779b97f4a7c15ull + signature;
      // Kept for end_step; without host memory for it the step cannot be
      // run as asked: filed, so that synchronize reports it (nothing may
      // throw out of a table entry).
      try {
        step_calls.emplace_back(launch);
      } catch (...) {
        check(cudaErrorMemoryAllocation);
        return;
      }
      if (mode == StepMode::replaying) return;
    }
    launch();
    if (mode == StepMode::recording) return check_recorded_launch();
    check_launch();
  }

  // A launch into a recording: an error of the capture itself is not the
  // step's (end_step then finds the capture broken and runs the kept calls
  // one by one, checking each); any other is filed.
  void check_recorded_launch();
};

// The position a kernel works at: the bracket's, or its argument's.
__device__ inline size_t position_at(const int64_t* source, size_t argument) {
  return source != nullptr ? static_cast<size_t>(*source) : argument;
}

// Row t's position, with `a`'s cache fields pointed at row t's cache in a
// batched step (its KvRow, in device memory); otherwise the call's cache and
// the position of its t-th token. Args: KvStoreArgs or AttentionArgs.
template <class Args>
__device__ inline size_t select_kv_row(Args& a, size_t t, const int64_t* position_source) {
  if (a.rows == nullptr) return position_at(position_source, a.first_position) + t;
  const KvRow& row = a.rows[t];
  a.k_cache = row.k_cache;
  a.v_cache = row.v_cache;
  a.capacity = row.capacity;
  a.ring = row.ring;
  return row.position;
}

inline Context& context_of(void* self) {
  return *static_cast<Context*>(self);
}

// Step bracket entries (cuda_backend.cu).
void begin_step(void* self, uint64_t key, size_t position);
void end_step(void* self, bool run);

// Kernel entries of the table, one file per component.
void embedding_bf16_f32(void* self, const bf16_t* table, size_t dim, const int32_t* ids, size_t n, float* out);
void rmsnorm_f32_bf16w(void* self, const float* x, const bf16_t* scale, size_t n, size_t dim, float eps, float* y);
void rope_f32(void* self, float* x, size_t n, size_t row_stride, size_t heads, size_t head_dim, const float* cos,
              const float* sin);
void kv_store_f32(void* self, const KvStoreArgs& args);
void matmul_f32_bf16w(void* self, const MatmulArgs& args);
void attention_f32(void* self, const AttentionArgs& args);
void router_topk_f32(void* self, const float* logits, size_t n, size_t experts, size_t k, int32_t* ids, float* weights);
void moe_mxfp4_f32(void* self, const MoeArgs& args);
void embedding_q8_0_f32(void* self, const uint8_t* table, size_t dim, const int32_t* ids, size_t n, float* out);
void matmul_f32_q8_0w(void* self, const MatmulArgs& args, const uint8_t* w);

// Launch geometry shared by the kernels: warps of 32, blocks of 256 threads.
inline constexpr unsigned kWarp = 32;
inline constexpr unsigned kBlockThreads = 256;
inline constexpr unsigned kBlockWarps = kBlockThreads / kWarp;

inline unsigned blocks_for(size_t items, size_t per_block) {
  return static_cast<unsigned>(cuda_math::tiles_covering(items, per_block));
}

// A matmul output: y[t, o] (+)= sum + bias[o] (matmul.cu, q8_0.cu).
__device__ inline void store_matmul_output(const MatmulArgs& a, size_t t, size_t o, float sum) {
  if (a.bias != nullptr) sum += cuda_math::bf16_to_float(a.bias[o]);
  float& y = a.y[t * a.y_stride + o];
  y = a.accumulate ? y + sum : sum;
}

// The sum of v over the warp, in every lane (all 32 lanes must call it).
__device__ inline float warp_sum(float v) {
  for (unsigned offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

// A GEMV's sums of output o for rows first..first+rows-1 of x, each lane
// holding part of them: summed over the warp, then stored by lane 0 (Split
// 1: a warp per output), or summed over the block's warps in order through
// `partial` (Split kBlockWarps: a block per output; warp `split_part` of it).
// Every thread of the warp (Split 1) or block must call it.
template <size_t Rows, unsigned Split>
__device__ inline void store_gemv_sums(const MatmulArgs& a, size_t first, size_t rows, size_t o, unsigned split_part,
                                       const float (&sum)[Rows], float (&partial)[Split][Rows]) {
  const unsigned lane = threadIdx.x % kWarp;
#pragma unroll
  for (size_t r = 0; r < Rows; ++r) {
    if (r >= rows) continue;  // the same for every lane
    const float total = warp_sum(sum[r]);
    if constexpr (Split == 1) {
      if (lane == 0) store_matmul_output(a, first + r, o, total);
    } else if (lane == 0) {
      partial[split_part][r] = total;
    }
  }
  if constexpr (Split > 1) {
    __syncthreads();
    if (threadIdx.x < rows) {
      float total = 0;
      for (unsigned p = 0; p < Split; ++p) total += partial[p][threadIdx.x];
      store_matmul_output(a, first + threadIdx.x, o, total);
    }
    __syncthreads();
  }
}

}  // namespace ossrt::cuda
