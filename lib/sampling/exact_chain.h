// The filters and the draw computed one candidate after another, in sampling
// order (or id order where nothing filters): the arithmetic that defines what
// the sampler returns, down to the rounding of each running sum. The bucketed
// chain (bucketed_chain.h) takes the same decisions without sorting wherever
// its error bound allows, and hands over to these functions where it does not.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "ossrt/sampler.hpp"
#include "sampling/sampling_order.h"
#include "sampling/scaled_logits.h"

namespace ossrt {

// The weights of `ordered` summed in that order.
double ordered_weight(const ScaledLogits& s, std::span<const OrderKey> ordered) noexcept;

// Every token's weight summed in id order: the total top-p takes its share of
// when top-k is off.
double id_order_weight(const ScaledLogits& s) noexcept;

// How many of `ordered` (the candidates top-k kept, in sampling order) top-p
// and min-p keep: the walk stops at the first candidate below min_p x the top
// weight (keeping at least one), or once the running share of `total`
// reaches top_p (keeping that candidate).
size_t filtered_count(const SamplerOptions& options, const ScaledLogits& s, std::span<const OrderKey> ordered,
                      double total) noexcept;

// The candidate of `kept` (sampling order, not empty) where the running weight
// first exceeds u x their total weight, u in [0, 1).
TokenId ordered_draw(const ScaledLogits& s, std::span<const OrderKey> kept, double u) noexcept;

// The same draw over every token in id order, for a chain with neither top-k
// nor filters; `block_sums` is scratch for the running sums it keeps.
TokenId id_order_draw(const ScaledLogits& s, double u, std::vector<double>& block_sums);

}  // namespace ossrt
