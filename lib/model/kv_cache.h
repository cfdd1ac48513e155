// Per-layer key/value cache of one session.
//
// Banded (sliding-window) layers keep a ring of sliding_window +
// max_batch_tokens - 1 positions: enough for every query of a chunk to see its
// whole window while the chunk's own keys are written first, and constant in
// the context length. Dense layers keep every position; their storage grows
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
};

class KvCache {
 public:
  struct Layer {
    DeviceBuffer k, v;  // [capacity, width]
    size_t capacity = 0;
    bool ring = false;
  };

  // Allocates the rings of the banded layers. Failure: out_of_memory.
  static Result<KvCache> create(const Backend& backend, const KvLayout& layout);

  // Makes room for positions [0, positions) in every dense layer, keeping the
  // cached content. Failure: out_of_memory (the cache is unchanged).
  Status reserve(size_t positions);

  // A deep copy: same layout and capacities, the first `positions` positions
  // of every layer copied (the whole ring for banded layers). Explicit,
  // because it copies device memory. Failure: out_of_memory.
  Result<KvCache> copy(size_t positions) const;

  const Layer& layer(size_t index) const noexcept { return layers_[index]; }
  Layer& layer(size_t index) noexcept { return layers_[index]; }
  size_t bytes() const noexcept;

 private:
  const Backend* backend_ = nullptr;
  KvLayout layout_;
  std::vector<Layer> layers_;
};

}  // namespace ossrt
