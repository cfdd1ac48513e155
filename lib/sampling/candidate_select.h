// Candidate sets as prefixes of the sampling order, found without sorting the
// vocabulary: top-k by counting tokens per logit bucket, a set's members by
// one gathering pass and a sort of only those members.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "sampling/logit_buckets.h"
#include "sampling/sampler_scratch.h"
#include "sampling/sampling_order.h"
#include "sampling/scaled_logits.h"

namespace ossrt {

// The candidates whose order keys are below `end`.
struct CandidateSet {
  OrderKey end = kEveryCandidate;
  // The bucket the end falls in: every earlier bucket holds only members,
  // every later one none.
  uint32_t boundary_bucket = LogitBuckets::kCount - 1;
};

// The first k candidates in sampling order, 0 < k < vocabulary size, from
// the tokens' buckets (scratch.buckets, filled). With `list_members`,
// scratch.ordered holds them in sampling order afterwards; without, the
// other tokens' buckets become LogitBuckets::kExcluded (and scratch.ordered
// is overwritten).
CandidateSet select_top_k(const ScaledLogits& s, size_t k, bool list_members, SamplerScratch& scratch);

// Fills `ordered` with the members of the set ending at `end`, in sampling order.
void gather_in_order(const ScaledLogits& s, OrderKey end, std::vector<OrderKey>& ordered,
                     std::vector<OrderKey>& sort_buffer);

}  // namespace ossrt
