// Per-thread working memory of the sampler. A Sampler is immutable and shared
// by sessions on several threads, so what one call needs lives here: each
// thread keeps its buffers (about 14 bytes per logit on the bucketed path; up
// to about 30 once a call has sorted the whole vocabulary, 6 MB at 201,088
// ids, kept until the thread ends) and reuses them on its next call instead of
// allocating again.
#pragma once

#include <cstdint>
#include <vector>

#include "sampling/sampling_order.h"

namespace ossrt {

struct SamplerScratch {
  std::vector<float> logits;             // the scaled logits (scaled_logits.h)
  std::vector<uint16_t> buckets;         // each token's logit bucket (logit_buckets.h)
  std::vector<double> weights;           // each token's pass weight (vocabulary_passes.h)
  std::vector<OrderKey> ordered;         // a candidate set in sampling order
  std::vector<uint32_t> bucket_ids;      // the tokens in one logit bucket
  std::vector<OrderKey> bucket_members;  // the members of one logit bucket, in sampling order
  std::vector<OrderKey> sort_buffer;     // sort_in_sampling_order's other half
  std::vector<double> bucket_weights;    // weight per logit bucket
  std::vector<uint32_t> bucket_counts;   // tokens per logit bucket
  std::vector<double> block_weights;     // running weights at the ends of blocks of ids
};

inline SamplerScratch& sampler_scratch() {
  thread_local SamplerScratch scratch;
  return scratch;
}

}  // namespace ossrt
