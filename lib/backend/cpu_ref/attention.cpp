#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu_ref/kernels.h"
#include "util/numeric.h"

namespace ossrt::cpu_ref {

namespace {

void store_row(void* cache, KvType type, size_t slot, const float* row, size_t width) {
  if (type == KvType::f32) {
    std::memcpy(static_cast<float*>(cache) + slot * width, row, width * sizeof(float));
    return;
  }
  bf16_t* out = static_cast<bf16_t*>(cache) + slot * width;
  for (size_t i = 0; i < width; ++i) out[i] = f32_to_bf16(row[i]);
}

float cache_element(const void* cache, KvType type, size_t index) {
  return type == KvType::f32 ? static_cast<const float*>(cache)[index]
                             : bf16_to_f32(static_cast<const bf16_t*>(cache)[index]);
}

// Row t's position and cache: its own in a batched step, else the one cache
// at first_position + t.
template <class Args>
KvRow row_of(const Args& a, size_t t) {
  if (a.rows != nullptr) return a.rows[t];
  return KvRow{a.first_position + t, const_cast<void*>(static_cast<const void*>(a.k_cache)),
               const_cast<void*>(static_cast<const void*>(a.v_cache)), a.capacity, a.ring};
}

}  // namespace

void kv_store_f32(void*, const KvStoreArgs& a) {
  for (size_t t = 0; t < a.n; ++t) {
    const KvRow row = row_of(a, t);
    const size_t slot = kv_slot(row.position, row.capacity, row.ring);
    store_row(row.k_cache, a.kv_type, slot, a.k + t * a.src_stride, a.width);
    store_row(row.v_cache, a.kv_type, slot, a.v + t * a.src_stride, a.width);
  }
}

// Online softmax over the visible keys, seeded with the sink: the running max
// starts at the sink logit and the sink contributes exp(sink - max) to the
// denominator but nothing to the output. No score matrix is materialised.
void attention_f32(void*, const AttentionArgs& a) {
  const size_t group = a.q_heads / a.kv_heads;
  const size_t kv_width = a.kv_heads * a.head_dim;
  const long long total = static_cast<long long>(a.n * a.q_heads);
#pragma omp parallel for schedule(static)
  for (long long job = 0; job < total; ++job) {
    const size_t t = static_cast<size_t>(job) / a.q_heads, h = static_cast<size_t>(job) % a.q_heads;
    const KvRow kv = row_of(a, t);
    const size_t position = kv.position;
    const size_t first_key = first_visible_key(position, a.window);
    const float* q = a.q + t * a.q_stride + h * a.head_dim;
    float* out = a.out + t * a.out_stride + h * a.head_dim;
    const size_t kv_offset = (h / group) * a.head_dim;
    float running_max = bf16_to_f32(a.sinks[h]);
    float denominator = 1.0f;  // exp(sink - running_max)
    std::fill(out, out + a.head_dim, 0.0f);
    for (size_t j = first_key; j <= position; ++j) {
      const size_t slot = kv_slot(j, kv.capacity, kv.ring);
      const size_t row = slot * kv_width + kv_offset;
      float score = 0;
      for (size_t d = 0; d < a.head_dim; ++d) score += q[d] * cache_element(kv.k_cache, a.kv_type, row + d);
      score *= a.scale;
      if (score > running_max) {
        const float rescale = std::exp(running_max - score);
        denominator *= rescale;
        for (size_t d = 0; d < a.head_dim; ++d) out[d] *= rescale;
        running_max = score;
      }
      const float p = std::exp(score - running_max);
      denominator += p;
      for (size_t d = 0; d < a.head_dim; ++d) out[d] += p * cache_element(kv.v_cache, a.kv_type, row + d);
    }
    for (size_t d = 0; d < a.head_dim; ++d) out[d] /= denominator;
  }
}

}  // namespace ossrt::cpu_ref
