// bf16 products of weight tiles and rounded tokens, ISA-generic (one
// instance per level, in its namespace): what the matmul and MoE kernels
// share under Numerics::fast. A kernel rounds its tokens to bf16 once (padded
// with zero tokens to Bf16TilePlan::columns), then for each tile of up to
// kBf16TileRows weight rows (bf16, rows `in` apart) computes
// sums[r * columns + t] = tile row r . token t through Products (Bf16Matmul:
// oneDNN on AMX or AVX512-BF16), one tile per parallel job.
// Include once per level's kernel file, after the level's Simd.
#pragma once

#include <algorithm>

#include "util/numeric.h"

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

namespace {

// Rows per tile: 128 rows of 2880 inputs (720 KiB) stay in a 2 MiB L2 with
// the tokens beside them.
constexpr size_t kBf16TileRows = 128;

// c[i * ldc + j] = sum_l a[i * k + l] * b[j * k + l] in fp32 over bf16 inputs:
// what a bf16 product computes, one element at a time.
void bf16_products_scalar(const bf16_t* a, const bf16_t* b, size_t m, size_t n, size_t k, float* c, size_t ldc) {
  for (size_t i = 0; i < m; ++i) {
    for (size_t j = 0; j < n; ++j) {
      float sum = 0;
      for (size_t l = 0; l < k; ++l) sum += bf16_to_f32(a[i * k + l]) * bf16_to_f32(b[j * k + l]);
      c[i * ldc + j] = sum;
    }
  }
}

// dst = src rounded to bf16 (to nearest even).
void round_to_bf16(const float* src, size_t count, bf16_t* dst) {
  const size_t vectors_end = count - count % Simd::kLanes;
  for (size_t i = 0; i < vectors_end; i += Simd::kLanes) Simd::store_bf16(dst + i, Simd::load(src + i));
  for (size_t i = vectors_end; i < count; ++i) dst[i] = f32_to_bf16(src[i]);
}

// Token counts are padded to a multiple of this (with zero tokens), so that
// the products' shapes are few: each new shape costs oneDNN a primitive (JIT
// code) that takes far longer to make than to run. 16 is an AMX tile's width.
constexpr size_t kBf16TokenGrain = 16;

// The products for `rows` weight rows times n tokens of `in` inputs, the
// tokens padded to `columns` (rows of zeros after the n real ones): full
// tiles and the last one. Made before the parallel region (they allocate).
template <class Products>
struct Bf16TilePlan {
  size_t columns = 0;
  const Products* full = nullptr;
  const Products* last = nullptr;

  Bf16TilePlan() = default;
  Bf16TilePlan(size_t rows, size_t n, size_t in)
      : columns((n + kBf16TokenGrain - 1) / kBf16TokenGrain * kBf16TokenGrain),
        full(Products::get(std::min(kBf16TileRows, rows), columns, in, columns)),
        last(Products::get(rows - (tiles(rows) - 1) * kBf16TileRows, columns, in, columns)) {}

  static size_t tiles(size_t rows) { return (rows + kBf16TileRows - 1) / kBf16TileRows; }
  bool ok() const { return full != nullptr && last != nullptr; }
  size_t scratch_bytes() const { return std::max(full->scratch_bytes(), last->scratch_bytes()); }

  // sums[r * columns + t] for the tile's `count` rows (bf16, rows `in` apart)
  // and the `columns` padded tokens (rows `in` apart).
  void multiply(const bf16_t* tile, size_t count, const bf16_t* tokens, size_t in, float* sums, void* scratch) const {
    const Products* product = count == kBf16TileRows ? full : last;
    // oneDNN fails only when out of memory: the same sums, slowly, rather than none.
    if (!product->run(tile, tokens, sums, scratch)) {
      bf16_products_scalar(tile, tokens, count, columns, in, sums, columns);
    }
  }
};

}  // namespace

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
