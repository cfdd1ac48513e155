#include "sampling/candidate_select.h"

#include "sampling/vocabulary_passes.h"

namespace ossrt {
namespace {

// Tokens per bucket. Four interleaved tables: neighbouring tokens often share
// a bucket, and one table would make each increment wait for the last.
void count_per_bucket(std::span<const uint16_t> buckets, std::vector<uint32_t>& counts) {
  constexpr size_t kTables = 4;
  counts.assign(kTables * LogitBuckets::kCount, 0);
  size_t i = 0;
  for (; i + kTables <= buckets.size(); i += kTables) {
    for (size_t t = 0; t < kTables; ++t) ++counts[t * LogitBuckets::kCount + buckets[i + t]];
  }
  for (; i < buckets.size(); ++i) ++counts[buckets[i]];
  for (size_t b = 0; b < LogitBuckets::kCount; ++b) {
    for (size_t t = 1; t < kTables; ++t) counts[b] += counts[t * LogitBuckets::kCount + b];
  }
}

}  // namespace

CandidateSet select_top_k(const ScaledLogits& s, size_t k, bool list_members, SamplerScratch& scratch) {
  const std::span<const uint16_t> buckets(scratch.buckets);
  std::vector<uint32_t>& counts = scratch.bucket_counts;
  count_per_bucket(buckets, counts);
  size_t before = 0;  // tokens in the buckets before `kth`
  uint32_t kth = 0;   // the bucket holding the k-th candidate
  while (before + counts[kth] < k) before += counts[kth++];

  // Sorted: the members too when listed, else only the k-th's bucket.
  std::vector<uint32_t>& ids = scratch.bucket_ids;
  ids.clear();
  ids_in_buckets(buckets, static_cast<uint16_t>(list_members ? 0 : kth), static_cast<uint16_t>(kth), ids);
  std::vector<OrderKey>& keys = scratch.ordered;
  keys.clear();
  for (uint32_t id : ids) keys.push_back(order_key(s.x[id], id));
  sort_in_sampling_order(keys, scratch.sort_buffer);
  const OrderKey end = keys[list_members ? k - 1 : k - 1 - before] + 1;
  if (list_members) {
    keys.resize(k);
  } else {
    for (OrderKey key : keys) {
      if (key >= end) scratch.buckets[order_key_id(key)] = LogitBuckets::kExcluded;
    }
    for (uint16_t& b : scratch.buckets) b = b > kth ? LogitBuckets::kExcluded : b;
  }
  return CandidateSet{end, kth};
}

void gather_in_order(const ScaledLogits& s, OrderKey end, std::vector<OrderKey>& ordered,
                     std::vector<OrderKey>& sort_buffer) {
  ordered.clear();
  for (uint32_t i = 0; i < s.x.size(); ++i) {
    const OrderKey key = order_key(s.x[i], i);
    if (key < end) ordered.push_back(key);
  }
  sort_in_sampling_order(ordered, sort_buffer);
}

}  // namespace ossrt
