// The draw over every token in id order (a chain with neither top-k nor
// filters) from the pass weights (vocabulary_passes.h): sums per block of ids
// find the block the target falls in, a walk through that block the token.
// The token is returned only when the decision clears decision_margin.h's
// margin, that is when exact_chain.h's id_order_draw returns it too.
#pragma once

#include <optional>
#include <span>
#include <vector>

#include "ossrt/tokenizer.hpp"

namespace ossrt {

// `weights`: every token's pass weight; u in [0, 1); `block_weights` is scratch.
std::optional<TokenId> block_draw(std::span<const double> weights, double u, std::vector<double>& block_weights);

}  // namespace ossrt
