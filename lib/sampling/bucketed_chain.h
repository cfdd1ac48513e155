// top-p, min-p and the draw over a large candidate set in linear time. One
// pass sums the candidates' pass weights (vocabulary_passes.h) per logit bucket;
// each decision (where the top-p share is reached, where the draw's target
// falls) walks the bucket sums and sorts only the bucket it lands in.
//
// A decision is taken only when it clears the margin of decision_margin.h,
// that is when exact_chain.h's one-by-one walk in sampling order would take
// it too; one that does not is reported undecided and the caller runs that
// walk. Either way the result is the walk's.
#pragma once

#include <cstddef>
#include <optional>

#include "ossrt/sampler.hpp"
#include "sampling/candidate_select.h"
#include "sampling/logit_buckets.h"
#include "sampling/sampler_scratch.h"
#include "sampling/scaled_logits.h"

namespace ossrt {

struct BucketedOutcome {
  std::optional<CandidateSet> kept;  // what top-p and min-p keep; none: undecided
  std::optional<TokenId> token;      // the draw from `kept`; none: undecided
};

// Runs top-p, min-p and the draw (uniform u in [0, 1)) over `candidates`
// (`count` of them: every token, or what top-k kept), from the tokens'
// `buckets` and pass weights (scratch.buckets, scratch.weights, filled).
BucketedOutcome bucketed_chain(const SamplerOptions& options, const ScaledLogits& s, const LogitBuckets& buckets,
                               CandidateSet candidates, size_t count, double u, SamplerScratch& scratch);

}  // namespace ossrt
