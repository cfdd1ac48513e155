// Per-layer key/value cache of one session.
//
// Banded (sliding-window) layers keep a ring of sliding_window +
// max_batch_tokens - 1 + rewind_tokens positions: enough for every query of a
// chunk to see its whole window while the chunk's own keys are written first,
// plus room to step back (truncate) without recomputing, and constant in the
// context length. Dense layers keep every position; their storage grows
// by doubling up to the session's context length.
#pragma once

#include <cstddef>
#include <vector>

#include "model/device_buffer.h"
#include "ossrt/status.hpp"

namespace ossrt {

struct KvLayout {
  size_t layers = 0;
  size_t width = 0;           // kv_heads * head_dim floats per position
  size_t sliding_window = 0;  // applies to even layers
  size_t context_length = 0;
  size_t max_batch_tokens = 0;
  size_t rewind_tokens = 0;  // extra ring slots, so truncation can drop that many tokens for free
  KvType type = KvType::f32;
};

class KvCache {
 public:
  struct Layer {
    DeviceBuffer k, v;  // [capacity, width] elements of layout().type
    size_t capacity = 0;
    bool ring = false;
  };

  // Allocates the rings of the banded layers. Failure: out_of_memory.
  static Result<KvCache> create(const Backend& backend, const KvLayout& layout);

  // Sizes, without a cache: positions of each banded layer's ring, the
  // capacity a dense layer grows to for `positions` (from `current`), and the
  // bytes a cache holds once it holds `positions` (memory estimates).
  static size_t ring_capacity(const KvLayout& layout) noexcept;
  static size_t dense_capacity(const KvLayout& layout, size_t current, size_t positions) noexcept;
  static uint64_t bytes_at(const KvLayout& layout, size_t positions) noexcept;

  // Makes room for positions [0, positions) in every dense layer, keeping the
  // cached content. Failure: out_of_memory (the cache is unchanged).
  Status reserve(size_t positions);

  // A deep copy: same layout and capacities, the first `positions` positions
  // of every layer copied (the whole ring for banded layers). Explicit,
  // because it copies device memory. Failure: out_of_memory.
  Result<KvCache> copy(size_t positions) const;

  // How many of the most recent positions can be dropped while the rings
  // still hold the window the next position needs.
  size_t rewindable() const noexcept;

  // Positions [first, first + count) of one layer, keys then values, each
  // [count, width] in position order, as fp32 (a bf16 cache widens on read
  // and rounds on write); the caller checks the layer holds them.
  void read_positions(size_t layer, size_t first, size_t count, float* keys, float* values) const;
  void write_positions(size_t layer, size_t first, size_t count, const float* keys, const float* values);
  // The positions a layer holds when the session holds `positions` tokens:
  // all of them for dense layers, the last capacity ones for banded layers.
  size_t held_from(size_t layer, size_t positions) const noexcept;
  const KvLayout& layout() const noexcept { return layout_; }

  const Layer& layer(size_t index) const noexcept { return layers_[index]; }
  Layer& layer(size_t index) noexcept { return layers_[index]; }
  size_t bytes() const noexcept;
  size_t row_bytes() const noexcept;  // one position of one layer's keys (or values)

 private:
  const Backend* backend_ = nullptr;
  KvLayout layout_;
  std::vector<Layer> layers_;
};

}  // namespace ossrt
