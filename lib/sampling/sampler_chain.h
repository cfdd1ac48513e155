// One Sampler::sample call, stage by stage: scaled logits (scaled_logits.h),
// top-k (candidate_select.h), then top-p, min-p and the draw, over small sets
// one candidate after another (exact_chain.h) and over large ones by logit
// bucket (bucketed_chain.h). Linear in the vocabulary; it sorts only what a
// decision needs.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ossrt/sampler.hpp"
#include "ossrt/status.hpp"

namespace ossrt {

struct KeptCandidate {
  TokenId id;
  double probability;  // its weight over the kept candidates' total weight
};

// Sampler::sample, and with `kept` (not null) also what the draw chose
// among: the candidates the filters kept, in sampling order, with their
// probabilities (diagnostics and tests; listing them sorts them). Failure as
// Sampler::sample; exceptions (bad_alloc) are the caller's to catch.
Result<TokenId> run_sampler_chain(const SamplerOptions& options, std::span<const float> logits,
                                  std::span<const TokenId> history, uint64_t position,
                                  std::vector<KeptCandidate>* kept);

}  // namespace ossrt
