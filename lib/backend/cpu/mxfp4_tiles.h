// MXFP4 expert matrices in row tiles: the layout the AVX-512 level's byte
// products read experts from (mxfp4_q8.h's tile_rows), made in place once at
// load (Backend::tile_experts) where the weights are the model's own memory.
// Every 16 rows (a tile) keep their bytes where they were, reordered block
// by block: block b's 256 code bytes are 4 chunks of 64, and chunk c holds,
// for each of the tile's rows j in order, the 4 code bytes 4c .. 4c + 3 of
// row j's block b (its elements 8c .. 8c + 7); block b's 16 scale bytes are
// the rows' scales in order. One 64-byte load then gives the codes of 16
// rows, int32 lane j of a vpdpbusd sums row j's products, and a tile's
// outputs come out of its lanes without horizontal sums or per-group scale
// shuffles. TSC cycles (2.6 GHz) per 4-block row group, one core of the Zen
// 4 VM, rows in L2: Q8 1, 2, 4 tokens 5.4, 8.9, 16.7 in rows against 3.9,
// 6.3, 11.1 in tiles; Q24 8.9, 15.6, 48 against 7.6, 13.5, 29.5. Rows past
// the last whole tile stay as they were. Plain C++: the layout is the same
// wherever it is read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "util/numeric.h"

namespace ossrt {

inline constexpr size_t kMxfp4TileRows = 16;
inline constexpr size_t kMxfp4TileChunks = kMxfp4BlockBytes / 4;  // 4-byte pieces of a row's block
inline constexpr size_t kMxfp4TileBlockBytes = kMxfp4TileRows * kMxfp4BlockBytes;

// Rows of a `rows`-row matrix that lie in whole tiles.
inline size_t mxfp4_tiled_rows(size_t rows) {
  return rows - rows % kMxfp4TileRows;
}

// Bytes of scratch tile_mxfp4_matrix needs for rows of `count` blocks.
inline size_t mxfp4_tile_scratch_bytes(size_t count) {
  return count * (kMxfp4TileBlockBytes + kMxfp4TileRows);
}

// Reorders one matrix (`rows` rows of `count` blocks; blocks [rows, count,
// 16], scales [rows, count]) into tiles in place, through `scratch`
// (mxfp4_tile_scratch_bytes).
inline void tile_mxfp4_matrix(uint8_t* blocks, uint8_t* scales, size_t rows, size_t count, uint8_t* scratch) {
  uint8_t* scratch_scales = scratch + count * kMxfp4TileBlockBytes;
  for (size_t first = 0; first < mxfp4_tiled_rows(rows); first += kMxfp4TileRows) {
    uint8_t* codes = blocks + first * count * kMxfp4BlockBytes;
    uint8_t* tile_scales = scales + first * count;
    std::memcpy(scratch, codes, count * kMxfp4TileBlockBytes);
    std::memcpy(scratch_scales, tile_scales, count * kMxfp4TileRows);
    for (size_t j = 0; j < kMxfp4TileRows; ++j) {
      for (size_t b = 0; b < count; ++b) {
        const uint8_t* row_block = scratch + (j * count + b) * kMxfp4BlockBytes;
        for (size_t c = 0; c < kMxfp4TileChunks; ++c) {
          std::memcpy(codes + b * kMxfp4TileBlockBytes + c * kMxfp4TileRows * 4 + j * 4, row_block + c * 4, 4);
        }
        tile_scales[b * kMxfp4TileRows + j] = scratch_scales[j * count + b];
      }
    }
  }
}

// Rows [first, last) of a tiled matrix in the plain layout: row r's blocks
// to blocks_out + (r - first) * count * 16, its scales to scales_out + (r -
// first) * count.
inline void untile_mxfp4_rows(const uint8_t* blocks, const uint8_t* scales, size_t rows, size_t count, size_t first,
                              size_t last, uint8_t* blocks_out, uint8_t* scales_out) {
  const size_t tiled = mxfp4_tiled_rows(rows);
  for (size_t r = first; r < last; ++r) {
    uint8_t* row_blocks = blocks_out + (r - first) * count * kMxfp4BlockBytes;
    uint8_t* row_scales = scales_out + (r - first) * count;
    if (r >= tiled) {
      std::memcpy(row_blocks, blocks + r * count * kMxfp4BlockBytes, count * kMxfp4BlockBytes);
      std::memcpy(row_scales, scales + r * count, count);
      continue;
    }
    const size_t tile_first = r - r % kMxfp4TileRows, j = r % kMxfp4TileRows;
    const uint8_t* codes = blocks + tile_first * count * kMxfp4BlockBytes;
    const uint8_t* tile_scales = scales + tile_first * count;
    for (size_t b = 0; b < count; ++b) {
      for (size_t c = 0; c < kMxfp4TileChunks; ++c) {
        std::memcpy(row_blocks + b * kMxfp4BlockBytes + c * 4,
                    codes + b * kMxfp4TileBlockBytes + c * kMxfp4TileRows * 4 + j * 4, 4);
      }
      row_scales[b] = tile_scales[b * kMxfp4TileRows + j];
    }
  }
}

}  // namespace ossrt
