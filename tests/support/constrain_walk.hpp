// Random walks through a constrained vocabulary: at each step the mask is
// computed and one allowed token chosen, by random logits (argmax) or by
// sampling random logits at temperature 1.5, until the value is complete.
// After `budget` tokens the walk prefers tokens that close strings, objects
// and arrays so that it ends. Shared by the unit tests and the ajv check.
#pragma once

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "constrain/token_mask.h"

namespace ossrt::test {

struct ConstrainedWalk {
  std::string text;
  std::vector<TokenId> tokens;
  bool complete = false;
  bool dead_end = false;  // an empty mask before the value was complete
};

// Fresh independent random logits at every step make the argmax a uniform
// choice among the allowed tokens, so that mode draws uniformly. The
// temperature mode fixes one random logit per token for the whole walk (a
// stand-in for a model's preferences) and samples softmax(logit / 1.5)
// restricted to the mask.
inline ConstrainedWalk random_constrained_walk(constrain::TokenMatcher& matcher,
                                               const constrain::TokenVocabulary& vocab, std::mt19937_64& rng,
                                               bool temperature, size_t budget, size_t limit) {
  ConstrainedWalk walk;
  constrain::TokenMask mask(vocab.vocab_size());
  std::vector<TokenId> allowed, closing;
  std::vector<double> weight;
  if (temperature) {
    std::normal_distribution<double> logit(0.0, 3.0);
    weight.resize(vocab.vocab_size());
    for (double& w : weight) w = std::exp(logit(rng) / 1.5);
  }
  for (size_t step = 0; step < limit; ++step) {
    if (matcher.is_complete() && (step >= budget || rng() % 3 == 0)) break;
    matcher.fill_mask(mask);
    allowed.clear();
    closing.clear();
    const auto& words = mask.words();
    for (size_t w = 0; w < words.size(); ++w)
      for (uint64_t bits = words[w]; bits; bits &= bits - 1) {
        const auto id = static_cast<TokenId>(w * 64 + static_cast<size_t>(__builtin_ctzll(bits)));
        allowed.push_back(id);
        if (step >= budget && vocab.bytes(id).find_first_of("\"}]") != std::string_view::npos) closing.push_back(id);
      }
    if (allowed.empty()) {
      walk.dead_end = !matcher.is_complete();
      break;
    }
    const std::vector<TokenId>& pool = !closing.empty() ? closing : allowed;
    TokenId pick = pool[rng() % pool.size()];
    if (temperature) {
      double total = 0;
      for (TokenId id : pool) total += weight[static_cast<size_t>(id)];
      double target = std::uniform_real_distribution<double>(0.0, total)(rng);
      for (TokenId id : pool) {
        pick = id;
        if ((target -= weight[static_cast<size_t>(id)]) <= 0) break;
      }
    }
    if (!matcher.accept_token(pick)) break;  // the caller checks `complete`
    walk.tokens.push_back(pick);
    walk.text += vocab.bytes(pick);
  }
  walk.complete = matcher.is_complete();
  return walk;
}

}  // namespace ossrt::test
