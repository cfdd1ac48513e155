// The register tile of the shared-memory matmul tiles (matmul.cu, q8_0.cu):
// a block of kBlockThreads threads computes 64 rows of x by 64 outputs, each
// thread 4 x 4 of them, from operands stored depth-major in shared memory.
#pragma once

#include "backend/cuda/cuda_context.cuh"

namespace ossrt::cuda {

inline constexpr unsigned kTile = 64, kPerThread = 4, kTileThreads = kTile / kPerThread;
inline constexpr unsigned kTileStride = kTile + 4;  // floats per shared row: padded off the bank pattern
static_assert(kTileThreads * kTileThreads == kBlockThreads, "a thread per 4 x 4 outputs");

// This thread's place in the tile: rows ty * 4 .. + 4, outputs tx * 4 .. + 4.
struct TileThread {
  unsigned tx, ty;
};
__device__ inline TileThread tile_thread() {
  return {threadIdx.x % kTileThreads, threadIdx.x / kTileThreads};
}

// acc[i][j] += the sum over k < Depth of xs[k][ty * 4 + i] * ws[k][tx * 4 + j].
template <unsigned Depth, class T>
__device__ inline void tile_products(const T (&xs)[Depth][kTileStride], const T (&ws)[Depth][kTileStride],
                                     TileThread me, T (&acc)[kPerThread][kPerThread]) {
#pragma unroll
  for (unsigned k = 0; k < Depth; ++k) {
    T xv[kPerThread], wv[kPerThread];
#pragma unroll
    for (unsigned i = 0; i < kPerThread; ++i) {
      xv[i] = xs[k][me.ty * kPerThread + i];
      wv[i] = ws[k][me.tx * kPerThread + i];
    }
#pragma unroll
    for (unsigned i = 0; i < kPerThread; ++i)
#pragma unroll
      for (unsigned j = 0; j < kPerThread; ++j) acc[i][j] += xv[i] * wv[j];
  }
}

// Stores this thread's outputs of the tile at rows row0.., outputs out0..
// that lie inside the matmul.
__device__ inline void store_tile(const MatmulArgs& a, size_t row0, size_t out0, TileThread me,
                                  const float (&sum)[kPerThread][kPerThread]) {
  for (unsigned i = 0; i < kPerThread; ++i) {
    const size_t row = row0 + me.ty * kPerThread + i;
    if (row >= a.n) continue;
    for (unsigned j = 0; j < kPerThread; ++j) {
      const size_t out = out0 + me.tx * kPerThread + j;
      if (out < a.out) store_matmul_output(a, row, out, sum[i][j]);
    }
  }
}

}  // namespace ossrt::cuda
