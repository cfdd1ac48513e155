#include <cmath>

#include "backend/cpu_ref/kernels.h"

namespace ossrt::cpu_ref {

// Top-k by repeated selection (k is small); then softmax over the k values.
void router_topk_f32(void*, const float* logits, size_t n, size_t experts, size_t k, int32_t* ids, float* weights) {
  for (size_t t = 0; t < n; ++t) {
    const float* g = logits + t * experts;
    int32_t* chosen = ids + t * k;
    float* w = weights + t * k;
    for (size_t s = 0; s < k; ++s) {
      size_t best = experts;
      for (size_t e = 0; e < experts; ++e) {
        bool taken = false;
        for (size_t p = 0; p < s; ++p) taken |= chosen[p] == static_cast<int32_t>(e);
        if (!taken && (best == experts || g[e] > g[best])) best = e;
      }
      chosen[s] = static_cast<int32_t>(best);
      w[s] = g[best];
    }
    const float top = w[0];
    float sum = 0;
    for (size_t s = 0; s < k; ++s) sum += (w[s] = std::exp(w[s] - top));
    for (size_t s = 0; s < k; ++s) w[s] /= sum;
  }
}

}  // namespace ossrt::cpu_ref
