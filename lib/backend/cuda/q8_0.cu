// Dense layers with Q8_0 weights (backend.h; GGUF files): the embedding
// gather (a thread per element) and the matmul in both numerics, computed as
// the reference computes them (cpu_ref/q8_0.cpp). A few rows of x (decode):
// one warp per output, 4 lanes to a block; more:
// tiles of 64 rows of x by 64 outputs, one block (32 inputs) deep, so that a
// tile's integer sums under Numerics::fast are whole blocks. Numerics::fast
// first quantizes x to Q15 blocks (q15.cuh, bit for bit the reference's),
// then sums each block's integer products and scales them by x scale * d.
#include <cstdint>
#include <type_traits>

#include "backend/cuda/cuda_context.cuh"
#include "backend/cuda/device_math.h"
#include "backend/cuda/matmul_tile.cuh"
#include "backend/cuda/q15.cuh"

namespace ossrt::cuda {

namespace {

constexpr size_t kValues = kQ8_0BlockValues, kBytes = kQ8_0BlockBytes;
constexpr size_t kGemvMaxRows = 8;  // rows of x one warp carries per output

__device__ inline int code(const uint8_t* block, size_t j) {
  return static_cast<int8_t>(__ldg(block + 2 + j));
}

__device__ inline float scale(const uint8_t* block) {
  const uint8_t bytes[2] = {__ldg(block), __ldg(block + 1)};
  return cuda_math::q8_0_scale(bytes);
}

__global__ void embedding_kernel(const uint8_t* table, size_t dim, const int32_t* ids, size_t n, float* out) {
  const size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x;
  if (i >= n * dim) return;
  const size_t t = i / dim, c = i % dim;
  const uint8_t* block = table + (static_cast<size_t>(ids[t]) * (dim / kValues) + c / kValues) * kBytes;
  out[i] = scale(block) * static_cast<float>(code(block, c % kValues));
}

// One warp per output o, Rows (<= kGemvMaxRows) rows of x at a time; x_q15
// holds x's Q15 blocks under Numerics::fast (null codes: exact numerics).
// The warp takes 8 blocks of the row per step, 4 lanes to a block and 8
// codes to a lane, so that its loads cover 272 contiguous bytes; a block is
// 34 bytes, so only 2-byte loads are aligned. Under Numerics::fast the 4
// lanes' integer products are summed before the block is scaled (integer
// sums: the reference's value whatever the order). Vectorized: x in 16-byte
// loads (exact numerics).
constexpr unsigned kLanesPerBlock = 4, kCodesPerLane = kValues / kLanesPerBlock;
constexpr unsigned kBlocksPerStep = kWarp / kLanesPerBlock;

template <size_t Rows, bool Vectorized, unsigned Split>
__global__ void gemv_kernel(MatmulArgs a, const uint8_t* w, Q15 x_q15) {
  static_assert(Split == 1 || Split == kBlockWarps, "a row is one warp or one block");
  __shared__ float partial[Split][Rows];
  const size_t warp = (blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x) / kWarp;
  const size_t o = warp / Split;
  const unsigned lane = threadIdx.x % kWarp, part = lane % kLanesPerBlock;
  const unsigned split_part = static_cast<unsigned>(warp % Split);
  if (o >= a.out) return;  // the whole warp (block where Split > 1)
  const size_t blocks = a.in / kValues;
  const uint8_t* row = w + o * blocks * kBytes;
  for (size_t first = 0; first < a.n; first += Rows) {
    const size_t rows = a.n - first < Rows ? a.n - first : Rows;
    float sum[Rows] = {};
#pragma unroll 2
    for (size_t b0 = split_part * kBlocksPerStep; b0 < blocks; b0 += kBlocksPerStep * Split) {
      // Lanes past the row's last block carry zeros: the shuffles below need
      // every lane.
      const size_t b = b0 + lane / kLanesPerBlock;
      const bool valid = b < blocks;
      const uint8_t* block = row + b * kBytes;
      float d = 0.0f;
      int q[kCodesPerLane] = {};
      if (valid) {
        d = cuda_math::f16_to_float(__ldg(reinterpret_cast<const uint16_t*>(block)));
        const uint16_t* codes = reinterpret_cast<const uint16_t*>(block + 2 + part * kCodesPerLane);
#pragma unroll
        for (unsigned j = 0; j < kCodesPerLane / 2; ++j) {
          const unsigned pair = __ldg(codes + j);
          q[2 * j] = static_cast<int8_t>(pair & 0xffu);
          q[2 * j + 1] = static_cast<int8_t>(pair >> 8);
        }
      }
      const size_t offset = b * kValues + part * kCodesPerLane;
#pragma unroll
      for (size_t r = 0; r < Rows; ++r) {
        if (r >= rows) continue;  // the same for every lane
        const size_t t = first + r;
        if (x_q15.codes != nullptr) {
          int32_t products = 0;
          if (valid) {
            // 8 codes: one 16-byte load (the codes are 16-byte aligned, see launch_matmul).
            const uint4 packed = *reinterpret_cast<const uint4*>(x_q15.codes + t * a.in + offset);
            const uint32_t words[4] = {packed.x, packed.y, packed.z, packed.w};
#pragma unroll
            for (unsigned j = 0; j < 4; ++j) {
              products += q[2 * j] * static_cast<int16_t>(words[j] & 0xffffu);
              products += q[2 * j + 1] * static_cast<int16_t>(words[j] >> 16);
            }
          }
          products += __shfl_xor_sync(0xffffffffu, products, 1);
          products += __shfl_xor_sync(0xffffffffu, products, 2);
          if (valid && part == 0) sum[r] += cuda_math::q8_0_q15_block_result(products, x_q15.scales[t * blocks + b], d);
        } else if (valid) {
          const float* x = a.x + t * a.x_stride + offset;
          float xv[kCodesPerLane];
          if constexpr (Vectorized) {
            const float4 lo = *reinterpret_cast<const float4*>(x), hi = *reinterpret_cast<const float4*>(x + 4);
            xv[0] = lo.x, xv[1] = lo.y, xv[2] = lo.z, xv[3] = lo.w, xv[4] = hi.x, xv[5] = hi.y, xv[6] = hi.z,
            xv[7] = hi.w;
          } else {
#pragma unroll
            for (unsigned j = 0; j < kCodesPerLane; ++j) xv[j] = x[j];
          }
#pragma unroll
          for (unsigned j = 0; j < kCodesPerLane; ++j) sum[r] += xv[j] * (d * static_cast<float>(q[j]));
        }
      }
    }
    store_gemv_sums<Rows, Split>(a, first, rows, o, split_part, sum, partial);
  }
}

// Fewer outputs than a few waves of warps (the K/V projections' 512, a
// router's 32): a block per output instead of a warp, as for bf16 (matmul.cu).
template <size_t Rows, bool Vectorized>
void launch_gemv(Context& c, const MatmulArgs& a, const uint8_t* w, Q15 x_q15) {
  constexpr size_t kFewOutputs = 1024;
  if (a.out <= kFewOutputs)
    gemv_kernel<Rows, Vectorized, kBlockWarps>
        <<<static_cast<unsigned>(a.out), kBlockThreads, 0, c.stream>>>(a, w, x_q15);
  else
    gemv_kernel<Rows, Vectorized, 1><<<blocks_for(a.out, kBlockWarps), kBlockThreads, 0, c.stream>>>(a, w, x_q15);
}

bool aligned16(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 16 == 0;
}

// Tiles of 64 rows of x by 64 outputs, one block deep (matmul_tile.cuh).
// Exact: x and the weights d * q as floats. Q15: x's codes and the weights'
// codes as integers, each block's sums scaled once.
template <bool kQ15>
__global__ void __launch_bounds__(kBlockThreads) gemm_kernel(MatmulArgs a, const uint8_t* w, Q15 x_q15) {
  using Value = std::conditional_t<kQ15, int32_t, float>;
  __shared__ Value xs[kValues][kTileStride];  // [input][row of x]
  __shared__ Value ws[kValues][kTileStride];  // [input][output]
  __shared__ float x_scales[kTile], w_scales[kTile];
  const size_t row0 = blockIdx.y * static_cast<size_t>(kTile), out0 = blockIdx.x * static_cast<size_t>(kTile);
  const TileThread me = tile_thread();
  const size_t blocks = a.in / kValues;
  float sum[kPerThread][kPerThread] = {};
  for (size_t b = 0; b < blocks; ++b) {
    for (unsigned e = threadIdx.x; e < kTile * kValues; e += kBlockThreads) {
      const unsigned r = e / kValues, k = e % kValues;
      const size_t row = row0 + r, out = out0 + r;
      if constexpr (kQ15) {
        xs[k][r] = row < a.n ? x_q15.codes[row * a.in + b * kValues + k] : 0;
        ws[k][r] = out < a.out ? code(w + (out * blocks + b) * kBytes, k) : 0;
      } else {
        xs[k][r] = row < a.n ? a.x[row * a.x_stride + b * kValues + k] : 0.0f;
        if (out < a.out) {
          const uint8_t* block = w + (out * blocks + b) * kBytes;
          ws[k][r] = scale(block) * static_cast<float>(code(block, k));
        } else {
          ws[k][r] = 0.0f;
        }
      }
    }
    if (kQ15 && threadIdx.x < kTile) {
      const size_t row = row0 + threadIdx.x, out = out0 + threadIdx.x;
      x_scales[threadIdx.x] = row < a.n ? x_q15.scales[row * blocks + b] : 0.0f;
      w_scales[threadIdx.x] = out < a.out ? scale(w + (out * blocks + b) * kBytes) : 0.0f;
    }
    __syncthreads();
    Value block_sum[kPerThread][kPerThread] = {};
    tile_products(xs, ws, me, block_sum);
#pragma unroll
    for (unsigned i = 0; i < kPerThread; ++i)
#pragma unroll
      for (unsigned j = 0; j < kPerThread; ++j) {
        if constexpr (kQ15) {
          sum[i][j] += cuda_math::q8_0_q15_block_result(block_sum[i][j], x_scales[me.ty * kPerThread + i],
                                                        w_scales[me.tx * kPerThread + j]);
        } else {
          sum[i][j] += block_sum[i][j];
        }
      }
    __syncthreads();
  }
  store_tile(a, row0, out0, me, sum);
}

// The launches of one matmul, on the instance's stream.
void launch_matmul(Context& c, const MatmulArgs& a, const uint8_t* w) {
  // Numerics::fast: x's Q15 blocks in stream-ordered scratch, freed once the
  // product has read them.
  Q15 x_q15{};
  void* memory = nullptr;
  if (a.bf16_products && a.in > 0) {
    const size_t codes = a.n * a.in, scales = codes / kValues;
    if (const cudaError_t status = cudaMallocAsync(&memory, codes * sizeof(int16_t) + scales * sizeof(float), c.stream);
        status != cudaSuccess) {
      c.check(status);
      return;
    }
    // Codes first, at the allocation's (256-byte) alignment, so that a
    // block's eighths are 16-byte aligned; the scales after them stay 4-byte
    // aligned (64 bytes of codes a block).
    x_q15.codes = static_cast<int16_t*>(memory);
    x_q15.scales = reinterpret_cast<float*>(x_q15.codes + codes);
    quantize_q15_rows(c, a.x, a.n, a.in, a.x_stride, x_q15);
  }
  if (a.n > kGemvMaxRows) {
    const dim3 grid(blocks_for(a.out, kTile), blocks_for(a.n, kTile));
    if (x_q15.codes != nullptr)
      gemm_kernel<true><<<grid, kBlockThreads, 0, c.stream>>>(a, w, x_q15);
    else
      gemm_kernel<false><<<grid, kBlockThreads, 0, c.stream>>>(a, w, x_q15);
  } else {
    const bool vectorized = x_q15.codes == nullptr && aligned16(a.x) && a.x_stride % 4 == 0;
    if (a.n == 1 && vectorized)
      launch_gemv<1, true>(c, a, w, x_q15);
    else if (a.n == 1)
      launch_gemv<1, false>(c, a, w, x_q15);
    else if (vectorized)
      launch_gemv<kGemvMaxRows, true>(c, a, w, x_q15);
    else
      launch_gemv<kGemvMaxRows, false>(c, a, w, x_q15);
  }
  c.check_launch();
  if (memory != nullptr) c.check(cudaFreeAsync(memory, c.stream));
}

}  // namespace

void embedding_q8_0_f32(void* self, const uint8_t* table, size_t dim, const int32_t* ids, size_t n, float* out) {
  Context& c = context_of(self);
  if (n * dim == 0) return;
  c.run(CallSignature(uint64_t(Entry::embedding_q8_0)).add(table, dim, ids, n, out).value(), [=, &c] {
    embedding_kernel<<<blocks_for(n * dim, kBlockThreads), kBlockThreads, 0, c.stream>>>(table, dim, ids, n, out);
  });
}

void matmul_f32_q8_0w(void* self, const MatmulArgs& a, const uint8_t* w) {
  Context& c = context_of(self);
  if (a.n * a.out == 0) return;
  c.run(matmul_signature(Entry::matmul_q8_0, a, w), [a, w, &c] { launch_matmul(c, a, w); });
}

}  // namespace ossrt::cuda
