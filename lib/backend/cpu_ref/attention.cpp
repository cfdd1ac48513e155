#include <algorithm>
#include <cmath>
#include <cstring>

#include "backend/cpu_ref/kernels.h"
#include "util/numeric.h"

namespace ossrt::cpu_ref {

void kv_store_f32(void*, const KvStoreArgs& a) {
  for (size_t t = 0; t < a.n; ++t) {
    const size_t slot = kv_slot(a.first_position + t, a.capacity, a.ring);
    std::memcpy(a.k_cache + slot * a.width, a.k + t * a.src_stride, a.width * sizeof(float));
    std::memcpy(a.v_cache + slot * a.width, a.v + t * a.src_stride, a.width * sizeof(float));
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
    const size_t position = a.first_position + t;
    const size_t first_key = first_visible_key(position, a.window);
    const float* q = a.q + t * a.q_stride + h * a.head_dim;
    float* out = a.out + t * a.out_stride + h * a.head_dim;
    const size_t kv_offset = (h / group) * a.head_dim;
    float running_max = bf16_to_f32(a.sinks[h]);
    float denominator = 1.0f;  // exp(sink - running_max)
    std::fill(out, out + a.head_dim, 0.0f);
    for (size_t j = first_key; j <= position; ++j) {
      const size_t slot = kv_slot(j, a.capacity, a.ring);
      const float* k = a.k_cache + slot * kv_width + kv_offset;
      const float* v = a.v_cache + slot * kv_width + kv_offset;
      float score = 0;
      for (size_t d = 0; d < a.head_dim; ++d) score += q[d] * k[d];
      score *= a.scale;
      if (score > running_max) {
        const float rescale = std::exp(running_max - score);
        denominator *= rescale;
        for (size_t d = 0; d < a.head_dim; ++d) out[d] *= rescale;
        running_max = score;
      }
      const float p = std::exp(score - running_max);
      denominator += p;
      for (size_t d = 0; d < a.head_dim; ++d) out[d] += p * v[d];
    }
    for (size_t d = 0; d < a.head_dim; ++d) out[d] /= denominator;
  }
}

}  // namespace ossrt::cpu_ref
