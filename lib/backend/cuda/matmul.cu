// y = x W^T + bias with bf16 weights, fp32 inputs and fp32 sums. Decode
// (a few rows) reads each weight row once with one warp per output, 16-byte
// loads; larger batches go through shared-memory tiles.
#include <cstdint>

#include "backend/cuda/cuda_context.cuh"
#include "backend/cuda/device_math.h"
#include "backend/cuda/matmul_tile.cuh"

namespace ossrt::cuda {

namespace {

using cuda_math::bf16_to_float;

constexpr size_t kGemvMaxRows = 8;  // rows of x one warp carries per weight row

// Split warps per output row o (1, or a whole block where there are few
// outputs, so that short matrices still spread over the GPU), for Rows
// (<= kGemvMaxRows) rows of x at a time. Vectorized: runs of 8 weights (16
// bytes) and 8 inputs strided over the row's threads.
template <size_t Rows, bool Vectorized, unsigned Split>
__global__ void gemv_kernel(MatmulArgs a) {
  static_assert(Split == 1 || Split == kBlockWarps, "a row is one warp or one block");
  __shared__ float partial[Split][Rows];
  const size_t warp = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) / kWarp;
  const size_t o = warp / Split;
  const unsigned lane = threadIdx.x % kWarp, part = static_cast<unsigned>(warp % Split);
  if (o >= a.out) return;  // the whole block where Split > 1
  const size_t thread = part * kWarp + lane, threads = Split * kWarp;
  const bf16_t* w = a.w + o * a.in;
  for (size_t first = 0; first < a.n; first += Rows) {
    const size_t rows = a.n - first < Rows ? a.n - first : Rows;
    float sum[Rows] = {};
    if constexpr (Vectorized) {
      for (size_t i = thread * 8; i < a.in; i += threads * 8) {
        const uint4 packed = __ldg(reinterpret_cast<const uint4*>(w + i));
        const uint32_t words[4] = {packed.x, packed.y, packed.z, packed.w};
        float wf[8];
        for (int j = 0; j < 4; ++j) {
          wf[2 * j] = cuda_math::float_from_bits(words[j] << 16);
          wf[2 * j + 1] = cuda_math::float_from_bits(words[j] & 0xffff0000u);
        }
#pragma unroll
        for (size_t r = 0; r < Rows; ++r) {
          if (r < rows) {
            const float* x = a.x + (first + r) * a.x_stride + i;
            const float4 lo = *reinterpret_cast<const float4*>(x), hi = *reinterpret_cast<const float4*>(x + 4);
            sum[r] += wf[0] * lo.x + wf[1] * lo.y + wf[2] * lo.z + wf[3] * lo.w + wf[4] * hi.x + wf[5] * hi.y +
                      wf[6] * hi.z + wf[7] * hi.w;
          }
        }
      }
    } else {
      for (size_t i = thread; i < a.in; i += threads) {
        const float wi = bf16_to_float(w[i]);
#pragma unroll
        for (size_t r = 0; r < Rows; ++r)
          if (r < rows) sum[r] += a.x[(first + r) * a.x_stride + i] * wi;
      }
    }
    store_gemv_sums<Rows, Split>(a, first, rows, o, part, sum, partial);
  }
}

template <size_t Rows, bool Vectorized>
void launch_gemv(Context& c, const MatmulArgs& a) {
  // Fewer outputs than a few waves of warps (the router's 32 x 2880): a block
  // per output instead of a warp (9.3 -> 3 us on an H200 expected).
  constexpr size_t kFewOutputs = 1024;
  if (a.out <= kFewOutputs)
    gemv_kernel<Rows, Vectorized, kBlockWarps><<<static_cast<unsigned>(a.out), kBlockThreads, 0, c.stream>>>(a);
  else
    gemv_kernel<Rows, Vectorized, 1><<<blocks_for(a.out, kBlockWarps), kBlockThreads, 0, c.stream>>>(a);
}

// Tiles of 64 rows x 64 outputs, 16 inputs deep (matmul_tile.cuh).
constexpr unsigned kDepth = 16;

__global__ void __launch_bounds__(kBlockThreads) gemm_kernel(MatmulArgs a) {
  __shared__ float xs[kDepth][kTileStride];
  __shared__ float ws[kDepth][kTileStride];
  const size_t row0 = blockIdx.y * static_cast<size_t>(kTile), out0 = blockIdx.x * static_cast<size_t>(kTile);
  const TileThread me = tile_thread();
  float sum[kPerThread][kPerThread] = {};
  for (size_t k0 = 0; k0 < a.in; k0 += kDepth) {
    // 64 x 16 elements of each operand, 4 per thread, stored depth-major.
    for (unsigned e = threadIdx.x; e < kTile * kDepth; e += kBlockThreads) {
      const unsigned r = e / kDepth, k = e % kDepth;
      const size_t row = row0 + r, out = out0 + r, depth = k0 + k;
      xs[k][r] = row < a.n && depth < a.in ? a.x[row * a.x_stride + depth] : 0.0f;
      ws[k][r] = out < a.out && depth < a.in ? bf16_to_float(a.w[out * a.in + depth]) : 0.0f;
    }
    __syncthreads();
    tile_products(xs, ws, me, sum);
    __syncthreads();
  }
  store_tile(a, row0, out0, me, sum);
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

}  // namespace

void matmul_f32_bf16w(void* self, const MatmulArgs& a) {
  Context& c = context_of(self);
  if (a.n * a.out == 0) return;
  c.run(signature_of(a), [a, &c] {
    if (a.n > kGemvMaxRows) {
      const dim3 grid(blocks_for(a.out, kTile), blocks_for(a.n, kTile));
      gemm_kernel<<<grid, kBlockThreads, 0, c.stream>>>(a);
      return;
    }
    const bool vectorized = a.in % 8 == 0 && aligned16(a.w) && aligned16(a.x) && a.x_stride % 4 == 0;
    if (vectorized && a.n == 1)
      launch_gemv<1, true>(c, a);
    else if (vectorized)
      launch_gemv<kGemvMaxRows, true>(c, a);
    else
      launch_gemv<kGemvMaxRows, false>(c, a);
  });
}

}  // namespace ossrt::cuda
