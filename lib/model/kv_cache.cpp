#include "model/kv_cache.h"

#include <algorithm>

#include "util/errors.h"
#include "util/numeric.h"

namespace ossrt {

namespace {
constexpr size_t kMinDenseCapacity = 256;
}

size_t KvCache::ring_capacity(const KvLayout& layout) noexcept {
  return std::min(layout.sliding_window + layout.max_batch_tokens - 1 + layout.rewind_tokens, layout.context_length);
}

// Doubling from kMinDenseCapacity, capped at the context (or exactly
// `positions` beyond it).
size_t KvCache::dense_capacity(const KvLayout& layout, size_t current, size_t positions) noexcept {
  size_t capacity = std::max(kMinDenseCapacity, current);
  while (capacity < positions) capacity *= 2;
  return std::min(capacity, std::max(positions, layout.context_length));
}

uint64_t KvCache::bytes_at(const KvLayout& layout, size_t positions) noexcept {
  const uint64_t row = 2ull * layout.width * kv_element_bytes(layout.type);  // keys and values
  const size_t banded = (layout.layers + 1) / 2, dense = layout.layers / 2;
  const size_t dense_positions = positions == 0 ? 0 : dense_capacity(layout, 0, positions);
  return row * (banded * ring_capacity(layout) + dense * dense_positions);
}

Result<KvCache> KvCache::create(const Backend& backend, const KvLayout& layout) {
  KvCache cache;
  cache.backend_ = &backend;
  cache.layout_ = layout;
  cache.layers_.resize(layout.layers);
  const size_t ring_capacity = KvCache::ring_capacity(layout);
  for (size_t n = 0; n < layout.layers; n += 2) {  // even layers are banded
    Layer& layer = cache.layers_[n];
    layer.ring = true;
    layer.capacity = ring_capacity;
    const size_t bytes = ring_capacity * cache.row_bytes();
    layer.k = DeviceBuffer(backend, bytes);
    layer.v = DeviceBuffer(backend, bytes);
    if (!layer.k.ok() || !layer.v.ok()) {
      return error(StatusCode::out_of_memory, "KV cache: cannot allocate %zu bytes for layer %zu", 2 * bytes, n);
    }
  }
  return cache;
}

Status KvCache::reserve(size_t positions) {
  for (size_t n = 1; n < layers_.size(); n += 2) {
    Layer& layer = layers_[n];
    if (positions <= layer.capacity) continue;
    const size_t capacity = dense_capacity(layout_, layer.capacity, positions);
    const size_t bytes = capacity * row_bytes();
    DeviceBuffer k(*backend_, bytes), v(*backend_, bytes);
    if (!k.ok() || !v.ok()) {
      return error(StatusCode::out_of_memory, "KV cache: cannot grow layer %zu to %zu positions (%zu bytes)", n,
                   capacity, 2 * bytes);
    }
    const size_t used = layer.capacity * row_bytes();
    if (used > 0) {
      backend_->copy(backend_->self, k.as(), layer.k.as(), used);
      backend_->copy(backend_->self, v.as(), layer.v.as(), used);
    }
    layer.k = std::move(k);
    layer.v = std::move(v);
    layer.capacity = capacity;
  }
  return Status::success();
}

Result<KvCache> KvCache::copy(size_t positions) const {
  Result<KvCache> made = create(*backend_, layout_);
  if (!made.ok()) return made.status();
  KvCache& out = made.value();
  if (Status st = out.reserve(positions); !st.ok()) return st;
  for (size_t n = 0; n < layers_.size(); ++n) {
    const Layer& from = layers_[n];
    Layer& to = out.layers_[n];
    const size_t slots = from.ring ? from.capacity : std::min(positions, from.capacity);
    const size_t bytes = slots * row_bytes();
    if (bytes == 0) continue;
    backend_->copy(backend_->self, to.k.as(), from.k.as(), bytes);
    backend_->copy(backend_->self, to.v.as(), from.v.as(), bytes);
  }
  return made;
}

size_t KvCache::row_bytes() const noexcept {
  return layout_.width * kv_element_bytes(layout_.type);
}

void KvCache::read_positions(size_t layer, size_t first, size_t count, float* keys, float* values) const {
  const Layer& l = layers_[layer];
  const size_t row = row_bytes(), width = layout_.width;
  std::vector<bf16_t> narrow(layout_.type == KvType::bf16 ? width : 0);
  auto read_row = [&](const DeviceBuffer& from, size_t slot, float* out) {
    if (layout_.type == KvType::f32)
      return backend_->download(backend_->self, out, from.as<uint8_t>() + slot * row, row);
    backend_->download(backend_->self, narrow.data(), from.as<uint8_t>() + slot * row, row);
    for (size_t e = 0; e < width; ++e) out[e] = bf16_to_f32(narrow[e]);
  };
  for (size_t i = 0; i < count; ++i) {
    const size_t slot = kv_slot(first + i, l.capacity, l.ring);
    read_row(l.k, slot, keys + i * width);
    read_row(l.v, slot, values + i * width);
  }
}

void KvCache::write_positions(size_t layer, size_t first, size_t count, const float* keys, const float* values) {
  Layer& l = layers_[layer];
  const size_t row = row_bytes(), width = layout_.width;
  std::vector<bf16_t> narrow(layout_.type == KvType::bf16 ? width : 0);
  auto write_row = [&](DeviceBuffer& to, size_t slot, const float* in) {
    if (layout_.type == KvType::f32) return backend_->upload(backend_->self, to.as<uint8_t>() + slot * row, in, row);
    for (size_t e = 0; e < width; ++e) narrow[e] = f32_to_bf16(in[e]);
    backend_->upload(backend_->self, to.as<uint8_t>() + slot * row, narrow.data(), row);
  };
  for (size_t i = 0; i < count; ++i) {
    const size_t slot = kv_slot(first + i, l.capacity, l.ring);
    write_row(l.k, slot, keys + i * width);
    write_row(l.v, slot, values + i * width);
  }
}

size_t KvCache::held_from(size_t layer, size_t positions) const noexcept {
  const Layer& l = layers_[layer];
  return l.ring && positions > l.capacity ? positions - l.capacity : 0;
}

size_t KvCache::rewindable() const noexcept {
  for (const Layer& layer : layers_)
    if (layer.ring && layer.capacity < layout_.context_length) return layer.capacity - layout_.sliding_window + 1;
  return layout_.context_length;
}

size_t KvCache::bytes() const noexcept {
  size_t total = 0;
  for (const Layer& layer : layers_) total += layer.k.bytes() + layer.v.bytes();
  return total;
}

}  // namespace ossrt
