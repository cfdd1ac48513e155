#include "sampling/bucketed_chain.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "sampling/decision_margin.h"
#include "sampling/vocabulary_passes.h"

namespace ossrt {
namespace {

struct Crossing {
  enum Outcome { found, not_reached, undecided } outcome = undecided;
  OrderKey key = 0;    // found: the member at which the running weight passed the goal
  double through = 0;  // the running weight through that member, or through the whole set
};

class BucketedChain {
 public:
  BucketedChain(const SamplerOptions& o, const ScaledLogits& s, const LogitBuckets& buckets, CandidateSet candidates,
                size_t count, SamplerScratch& scratch)
      : o_(o), s_(s), buckets_(buckets), candidates_(candidates), scratch_(scratch), margin_(count) {}

  BucketedOutcome run(double u) {
    weigh();
    // min-p: the candidates before the first (in sampling order) below the threshold.
    const CandidateSet passing = first_below_min_p_ < candidates_.end ? before(first_below_min_p_) : candidates_;
    CandidateSet kept = passing;
    double kept_weight = total_;
    if (o_.top_p < 1.0f) {
      const Crossing share = locate(passing, static_cast<double>(o_.top_p) * total_, true);
      if (share.outcome == Crossing::undecided) return {};
      if (share.outcome == Crossing::found) kept = through(share.key);
      kept_weight = share.through;
    } else if (passing.end != candidates_.end) {
      kept_weight = weight_of(passing);
    }
    const Crossing draw = locate(kept, u * kept_weight, false);
    if (draw.outcome != Crossing::found) return {kept, std::nullopt};
    return {kept, static_cast<TokenId>(order_key_id(draw.key))};
  }

 private:
  double weight(OrderKey key) const noexcept { return scratch_.weights[order_key_id(key)]; }

  // The candidates before `key`'s, or through it.
  CandidateSet before(OrderKey key) const noexcept { return {key, scratch_.buckets[order_key_id(key)]}; }
  CandidateSet through(OrderKey key) const noexcept { return {key + 1, scratch_.buckets[order_key_id(key)]}; }

  // The one pass over the candidates: the weight per bucket and its total,
  // then the first candidate below min-p.
  void weigh() {
    const std::span<const double> weights(scratch_.weights);
    const std::span<const uint16_t> buckets(scratch_.buckets);
    // Two tables, for alternate tokens: neighbours often share a bucket, and
    // one table would make each addition wait for the last.
    constexpr size_t kTable = LogitBuckets::kCount + 1;  // with kExcluded
    std::vector<double>& sums = scratch_.bucket_weights;
    sums.assign(2 * kTable, 0.0);
    size_t i = 0;
    for (; i + 2 <= weights.size(); i += 2) {
      sums[buckets[i]] += weights[i];
      sums[kTable + buckets[i + 1]] += weights[i + 1];
    }
    if (i < weights.size()) sums[buckets[i]] += weights[i];
    total_ = 0;
    for (size_t b = 0; b < LogitBuckets::kCount; ++b) {
      sums[b] += sums[kTable + b];
      total_ += sums[b];
    }
    if (o_.min_p > 0.0f) first_below_min_p_ = first_below_min_p();
  }

  // The first candidate below min_p x the top weight, in sampling order:
  // the first in the first bucket that holds one. Buckets whose logits are
  // all surely above the threshold are skipped unopened. A pass weight under
  // `surely` is from a weight below min_p, one from `surely` to `maybe` is
  // decided by std::exp (the pass weights are within kWeightPassError).
  OrderKey first_below_min_p() {
    if (buckets_.all_at_top()) return kEveryCandidate;  // every weight is e^0 = 1 >= min_p
    const std::span<const double> weights(scratch_.weights);
    const double min_p = o_.min_p;
    const double surely = min_p * (1 - 4 * kWeightPassError), maybe = min_p * (1 + 4 * kWeightPassError);
    for (uint32_t b = 0; b < LogitBuckets::kCount; ++b) {
      if (scratch_.bucket_weights[b] == 0) continue;  // no candidate (every weight is above 0)
      const bool last = b == LogitBuckets::kCount - 1;
      if (!last && std::exp(buckets_.lowest_offset(b)) * (1 - 4 * kWeightPassError) >= maybe) continue;
      std::vector<uint32_t>& ids = scratch_.bucket_ids;
      ids.clear();
      ids_in_buckets(scratch_.buckets, static_cast<uint16_t>(b), static_cast<uint16_t>(b), ids);
      OrderKey first = kEveryCandidate;
      for (uint32_t id : ids) {
        const double w = weights[id];
        if (w < surely || (w < maybe && relative_weight(s_, id) < min_p)) {
          first = std::min(first, order_key(s_.x[id], id));
        }
      }
      if (first != kEveryCandidate) return first;
    }
    return kEveryCandidate;
  }

  // The members of `bucket` before `end`, in sampling order. The last bucket
  // gathered is kept: the draw usually lands in the one top-p ended in.
  std::span<const OrderKey> members(uint32_t bucket, OrderKey end) {
    std::vector<OrderKey>& keys = scratch_.bucket_members;
    if (bucket != gathered_bucket_ || end > gathered_end_) {
      std::vector<uint32_t>& ids = scratch_.bucket_ids;
      ids.clear();
      ids_in_buckets(scratch_.buckets, static_cast<uint16_t>(bucket), static_cast<uint16_t>(bucket), ids);
      keys.clear();
      for (uint32_t id : ids) {
        const OrderKey key = order_key(s_.x[id], id);
        if (key < end) keys.push_back(key);
      }
      sort_in_sampling_order(keys, scratch_.sort_buffer);
      gathered_bucket_ = bucket;
      gathered_end_ = end;
    }
    return {keys.begin(), std::lower_bound(keys.begin(), keys.end(), end)};
  }

  double weight_of(CandidateSet set) {
    double total = 0;
    for (uint32_t b = 0; b < set.boundary_bucket; ++b) total += scratch_.bucket_weights[b];
    for (OrderKey key : members(set.boundary_bucket, set.end)) total += weight(key);
    return total;
  }

  // The first member of `set` at which the running weight reaches `goal`
  // (`reach`) or exceeds it (otherwise).
  Crossing locate(CandidateSet set, double goal, bool reach) {
    const auto passes = [&](double running) { return reach ? running >= goal : running > goal; };
    double running = 0;
    for (uint32_t b = 0; b <= set.boundary_bucket; ++b) {
      const bool boundary = b == set.boundary_bucket;
      if (!boundary && !passes(running + scratch_.bucket_weights[b])) {
        running += scratch_.bucket_weights[b];
        continue;
      }
      for (OrderKey key : members(b, set.end)) {
        const double before = running;
        running += weight(key);
        if (!passes(running)) continue;
        // before == 0 only at the top candidate, where both walks start from an exact 0.
        const bool decided = margin_.clear(running, goal) && (before == 0 || margin_.clear(before, goal));
        return decided ? Crossing{Crossing::found, key, running} : Crossing{};
      }
      if (!boundary) return {};  // the bucket's sum passed, its members one by one did not
    }
    return margin_.clear(running, goal) ? Crossing{Crossing::not_reached, 0, running} : Crossing{};
  }

  const SamplerOptions& o_;
  const ScaledLogits& s_;
  const LogitBuckets& buckets_;
  const CandidateSet candidates_;
  SamplerScratch& scratch_;
  const DecisionMargin margin_;
  double total_ = 0;
  OrderKey first_below_min_p_ = kEveryCandidate;
  uint32_t gathered_bucket_ = LogitBuckets::kCount;  // none yet
  OrderKey gathered_end_ = 0;
};

}  // namespace

BucketedOutcome bucketed_chain(const SamplerOptions& options, const ScaledLogits& s, const LogitBuckets& buckets,
                               CandidateSet candidates, size_t count, double u, SamplerScratch& scratch) {
  return BucketedChain(options, s, buckets, candidates, count, scratch).run(u);
}

}  // namespace ossrt
