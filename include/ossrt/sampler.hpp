// Sampler: turns a row of logits into the next token.
//
// The chain, in order: logit bias -> repetition / presence / frequency
// penalties over the recent history -> temperature (a divisor; 0 = arg-max)
// -> top-k -> top-p -> min-p -> draw. Every stage takes candidates in one
// order: higher scaled logit first, lower id on ties (-0 and +0 tie). top-p
// keeps candidates until their share of what top-k kept reaches top_p (the
// one that reaches it included); min-p stops at the first below min_p x the
// top's probability (keeping at least one). The draw uses a counter-based
// generator keyed by (seed, position), so the same seed, logits and position
// give the same token on every run, machine and thread count.
//
// Infinite scaled logits: when the top is +inf (given, biased, or a finite
// logit over a tiny temperature) the tokens at +inf share all the
// probability equally; when every logit is -inf, all tokens do.
//
// Cost: linear in the vocabulary. Only the candidates a decision falls
// among are sorted (at most 1024 under top-k, else those of one bucket of
// nearby logits), and the running sums are checked against a rounding bound
// so that the result is exactly that of adding the probabilities one by one
// in the order above.
//
// Thread rules: a Sampler holds only its options; sample() is const and safe
// to call from several threads at once. Each calling thread keeps its own
// working memory between calls (about 14 bytes per logit, up to
// about 30 after a call that sorted the whole vocabulary).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "ossrt/status.hpp"
#include "ossrt/tokenizer.hpp"

namespace ossrt {

struct SamplerOptions {
  float temperature = 1.0f;         // >= 0; 0 = arg-max
  size_t top_k = 0;                 // keep the k most likely; 0 = off
  float top_p = 1.0f;               // (0, 1]: smallest set with this much probability; 1 = off
  float min_p = 0.0f;               // [0, 1]: drop tokens below min_p x the top probability; 0 = off
  float repetition_penalty = 1.0f;  // > 0: divides positive, multiplies negative logits of seen tokens; 1 = off
  float presence_penalty = 0.0f;    // subtracted once from each seen token's logit
  float frequency_penalty = 0.0f;   // subtracted per occurrence
  size_t penalty_last_n = 64;       // how many recent tokens the penalties look at; 0 = all given
  std::vector<std::pair<TokenId, float>> logit_bias;  // added to those ids' logits
  uint64_t seed = 0;
};

class Sampler {
 public:
  // Validates the options. Failure: invalid_argument naming the option.
  static Result<Sampler> create(const SamplerOptions& options) noexcept;

  // Picks the next token from `logits` (one per vocabulary id). `history` is
  // the token sequence so far (for the penalties); `position` keys the random
  // draw (use the index the token will take, e.g. the session's token count).
  // Failure: invalid_argument (empty logits, a bias id outside them, a NaN
  // logit, given or made by bias and penalties), out_of_memory.
  Result<TokenId> sample(std::span<const float> logits, std::span<const TokenId> history,
                         uint64_t position) const noexcept;

  const SamplerOptions& options() const noexcept { return options_; }

 private:
  explicit Sampler(SamplerOptions options) : options_(std::move(options)) {}
  SamplerOptions options_;
};

}  // namespace ossrt
