// Embedding, RMSNorm, RoPE and the KV store: one thread per element (a block
// per row for RMSNorm's sum).
#include "backend/cuda/cuda_context.cuh"
#include "backend/cuda/device_math.h"

namespace ossrt::cuda {

namespace {

using cuda_math::bf16_to_float;
using cuda_math::float_to_bf16;

__global__ void embedding_kernel(const bf16_t* table, size_t dim, const int32_t* ids, size_t n, float* out) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= n * dim) return;
  const size_t t = i / dim, c = i % dim;
  out[i] = bf16_to_float(table[static_cast<size_t>(ids[t]) * dim + c]);
}

// The sum of squares in double, as the reference takes it, so that the
// inverse RMS agrees to the last bit or two; warp shuffles, then one step
// across the block's warps.
__global__ void rmsnorm_kernel(const float* x, const bf16_t* scale, size_t dim, float eps, float* y) {
  __shared__ double warp_sums[kBlockWarps];
  const float* row = x + blockIdx.x * dim;
  double sum = 0;
  for (size_t i = threadIdx.x; i < dim; i += blockDim.x) sum += static_cast<double>(row[i]) * row[i];
  for (unsigned offset = kWarp / 2; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  if (threadIdx.x % kWarp == 0) warp_sums[threadIdx.x / kWarp] = sum;
  __syncthreads();
  double total = 0;
  for (unsigned w = 0; w < kBlockWarps; ++w) total += warp_sums[w];
  const float inv_rms = static_cast<float>(1.0 / sqrt(total / static_cast<double>(dim) + eps));
  for (size_t i = threadIdx.x; i < dim; i += blockDim.x)
    y[blockIdx.x * dim + i] = row[i] * inv_rms * bf16_to_float(scale[i]);
}

// Half-split rotation: pair i couples dims i and i + head_dim/2.
__global__ void rope_kernel(float* x, size_t n, size_t row_stride, size_t heads, size_t head_dim, const float* cos,
                            const float* sin) {
  const size_t half = head_dim / 2;
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= n * heads * half) return;
  const size_t t = i / (heads * half), h = (i / half) % heads, p = i % half;
  float* v = x + t * row_stride + h * head_dim;
  const float c = cos[t * half + p], s = sin[t * half + p];
  const float x1 = v[p], x2 = v[p + half];
  v[p] = x1 * c - x2 * s;
  v[p + half] = x2 * c + x1 * s;
}

__global__ void kv_store_kernel(KvStoreArgs a, const int64_t* position_source) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= a.n * a.width) return;
  const size_t t = i / a.width, c = i % a.width;
  const size_t position = select_kv_row(a, t, position_source);
  const size_t slot = kv_slot(position, a.capacity, a.ring);
  const float k = a.k[t * a.src_stride + c], v = a.v[t * a.src_stride + c];
  const size_t at = slot * a.width + c;
  if (a.kv_type == KvType::f32) {
    static_cast<float*>(a.k_cache)[at] = k;
    static_cast<float*>(a.v_cache)[at] = v;
  } else {
    static_cast<bf16_t*>(a.k_cache)[at] = float_to_bf16(k);
    static_cast<bf16_t*>(a.v_cache)[at] = float_to_bf16(v);
  }
}

}  // namespace

void embedding_bf16_f32(void* self, const bf16_t* table, size_t dim, const int32_t* ids, size_t n, float* out) {
  Context& c = context_of(self);
  if (n * dim == 0) return;
  c.run(CallSignature(uint64_t(Entry::embedding)).add(table, dim, ids, n, out).value(), [=, &c] {
    embedding_kernel<<<blocks_for(n * dim, kBlockThreads), kBlockThreads, 0, c.stream>>>(table, dim, ids, n, out);
  });
}

void rmsnorm_f32_bf16w(void* self, const float* x, const bf16_t* scale, size_t n, size_t dim, float eps, float* y) {
  Context& c = context_of(self);
  if (n == 0) return;
  c.run(CallSignature(uint64_t(Entry::rmsnorm)).add(x, scale, n, dim, eps, y).value(),
        [=, &c] { rmsnorm_kernel<<<static_cast<unsigned>(n), kBlockThreads, 0, c.stream>>>(x, scale, dim, eps, y); });
}

void rope_f32(void* self, float* x, size_t n, size_t row_stride, size_t heads, size_t head_dim, const float* cos,
              const float* sin) {
  Context& c = context_of(self);
  const size_t items = n * heads * (head_dim / 2);
  if (items == 0) return;
  c.run(CallSignature(uint64_t(Entry::rope)).add(x, n, row_stride, heads, head_dim, cos, sin).value(), [=, &c] {
    rope_kernel<<<blocks_for(items, kBlockThreads), kBlockThreads, 0, c.stream>>>(x, n, row_stride, heads, head_dim,
                                                                                  cos, sin);
  });
}

void kv_store_f32(void* self, const KvStoreArgs& args) {
  Context& c = context_of(self);
  if (args.n * args.width == 0) return;
  c.run(signature_of(args), [=, &c, position = c.position_source()] {
    kv_store_kernel<<<blocks_for(args.n * args.width, kBlockThreads), kBlockThreads, 0, c.stream>>>(args, position);
  });
}

}  // namespace ossrt::cuda
