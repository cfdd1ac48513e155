// One CUDA backend instance (internal to backend/cuda/): its device and
// stream, the first device failure, and the weights it placed. The kernel
// files launch on the instance's stream and file launch failures here.
#pragma once

#include <cuda_runtime.h>

#include <mutex>
#include <vector>

#include "backend/backend.h"

namespace ossrt::cuda {

struct Context {
  int device = 0;
  cudaStream_t stream = nullptr;
  std::mutex mutex;                   // guards the members below
  cudaError_t failure = cudaSuccess;  // the first failure; sticky
  std::vector<void*> placed_weights;  // freed by destroy

  // Makes this instance's device current on the calling thread (the runtime
  // keeps one current device per host thread).
  void enter() const { cudaSetDevice(device); }
  // Files a failed call (or the last launch's error) and keeps the first.
  void check(cudaError_t status);
  void check_launch() { check(cudaGetLastError()); }
};

inline Context& context_of(void* self) {
  return *static_cast<Context*>(self);
}

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

// Launch geometry shared by the kernels: warps of 32, blocks of 256 threads.
inline constexpr unsigned kWarp = 32;
inline constexpr unsigned kBlockThreads = 256;
inline constexpr unsigned kBlockWarps = kBlockThreads / kWarp;

inline unsigned blocks_for(size_t items, size_t per_block) {
  return static_cast<unsigned>((items + per_block - 1) / per_block);
}

// The sum of v over the warp, in every lane (all 32 lanes must call it).
__device__ inline float warp_sum(float v) {
  for (unsigned offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

}  // namespace ossrt::cuda
