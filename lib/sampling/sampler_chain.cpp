#include "sampling/sampler_chain.h"

#include <limits>

#include "sampling/block_draw.h"
#include "sampling/bucketed_chain.h"
#include "sampling/candidate_select.h"
#include "sampling/draw.h"
#include "sampling/exact_chain.h"
#include "sampling/logit_buckets.h"
#include "sampling/sampler_scratch.h"
#include "sampling/scaled_logits.h"
#include "sampling/vocabulary_passes.h"
#include "util/errors.h"

namespace ossrt {
namespace {

// Up to this many candidates the one-by-one walk over the sorted set is the
// cheaper way (a pass over the vocabulary costs more than sorting them).
constexpr size_t kSortedWalkLimit = 1024;

void list_kept(const ScaledLogits& s, std::span<const OrderKey> ordered, double total,
               std::vector<KeptCandidate>& kept) {
  kept.clear();
  for (OrderKey key : ordered) {
    kept.push_back({static_cast<TokenId>(order_key_id(key)), relative_weight(s, order_key_id(key)) / total});
  }
}

// Neither top-k nor a filter: the draw walks every token in id order.
TokenId draw_from_every_token(const ScaledLogits& s, double u, SamplerScratch& scratch,
                              std::vector<KeptCandidate>* kept) {
  if (kept != nullptr) {
    gather_in_order(s, kEveryCandidate, scratch.ordered, scratch.sort_buffer);
    list_kept(s, scratch.ordered, id_order_weight(s), *kept);
  }
  if (s.x.size() > kSortedWalkLimit) {
    scratch.weights.resize(s.x.size());
    compute_weights(s.x, s.top, scratch.weights);
    if (auto token = block_draw(scratch.weights, u, scratch.block_weights)) return *token;
  }
  return id_order_draw(s, u, scratch.block_weights);
}

// top-p and min-p over `ordered` (what top-k kept, in sampling order) one
// candidate after another, then the draw.
TokenId walk_in_order(const SamplerOptions& o, const ScaledLogits& s, std::span<const OrderKey> ordered, double u,
                      std::vector<KeptCandidate>* kept) {
  size_t keep = ordered.size();
  if (o.top_p < 1.0f || o.min_p > 0.0f) {
    keep = filtered_count(o, s, ordered, o.top_k == 0 ? id_order_weight(s) : ordered_weight(s, ordered));
  }
  const std::span<const OrderKey> drawn_from = ordered.first(keep);
  if (kept != nullptr) list_kept(s, drawn_from, ordered_weight(s, drawn_from), *kept);
  return ordered_draw(s, drawn_from, u);
}

}  // namespace

Result<TokenId> run_sampler_chain(const SamplerOptions& o, std::span<const float> logits,
                                  std::span<const TokenId> history, uint64_t position,
                                  std::vector<KeptCandidate>* kept) {
  if (logits.empty()) return Status(StatusCode::invalid_argument, "sampler: no logits");
  if (logits.size() > static_cast<size_t>(std::numeric_limits<TokenId>::max())) {
    return error(StatusCode::invalid_argument, "sampler: %zu logits are more than token ids can number", logits.size());
  }
  SamplerScratch& scratch = sampler_scratch();
  auto scaled = scale_logits(o, logits, history, scratch.logits);
  if (!scaled.ok()) return scaled.status();
  const ScaledLogits& s = scaled.value();
  if (o.temperature == 0.0f) {
    const TokenId top = static_cast<TokenId>(s.top_id);  // arg-max, the lowest id on ties
    if (kept != nullptr) *kept = {{top, 1.0}};
    return top;
  }
  const double u = sampling_uniform(o.seed, position);
  if (o.top_k == 0 && o.top_p == 1.0f && o.min_p == 0.0f) return draw_from_every_token(s, u, scratch, kept);

  const size_t vocab = s.x.size();
  const LogitBuckets buckets(s.top, s.lowest);
  scratch.buckets.resize(vocab);
  compute_buckets(s.x, buckets, scratch.buckets);
  CandidateSet candidates;  // top-k's
  size_t count = vocab;
  const bool top_k = o.top_k > 0 && o.top_k < vocab;
  if (top_k) {
    count = o.top_k;
    candidates = select_top_k(s, count, count <= kSortedWalkLimit, scratch);
  }
  std::vector<OrderKey>& ordered = scratch.ordered;
  if (count > kSortedWalkLimit) {
    scratch.weights.resize(vocab);
    compute_weights(s.x, s.top, scratch.weights);
    const BucketedOutcome outcome = bucketed_chain(o, s, buckets, candidates, count, u, scratch);
    if (outcome.kept) {
      if (outcome.token && kept == nullptr) return *outcome.token;
      gather_in_order(s, outcome.kept->end, ordered, scratch.sort_buffer);
      if (kept != nullptr) list_kept(s, ordered, ordered_weight(s, ordered), *kept);
      return outcome.token ? *outcome.token : ordered_draw(s, ordered, u);
    }
  }
  if (!top_k || count > kSortedWalkLimit) gather_in_order(s, candidates.end, ordered, scratch.sort_buffer);
  return walk_in_order(o, s, ordered, u, kept);
}

}  // namespace ossrt
