#include "ossrt/sampler.hpp"

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "sampling/draw.h"
#include "util/errors.h"

namespace ossrt {
namespace {

struct Candidate {
  TokenId id;
  float logit;
};

// Descending by logit, lower id first on ties: the order every stage uses.
bool before(const Candidate& a, const Candidate& b) noexcept {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

}  // namespace

Result<Sampler> Sampler::create(const SamplerOptions& o) noexcept {
  return guard("Sampler::create", [&]() -> Result<Sampler> {
    if (!(o.temperature >= 0.0f) || !std::isfinite(o.temperature)) {
      return error(StatusCode::invalid_argument, "sampler: temperature %g must be a finite number >= 0",
                   static_cast<double>(o.temperature));
    }
    if (!(o.top_p > 0.0f && o.top_p <= 1.0f)) {
      return error(StatusCode::invalid_argument, "sampler: top_p %g must be in (0, 1]", static_cast<double>(o.top_p));
    }
    if (!(o.min_p >= 0.0f && o.min_p <= 1.0f)) {
      return error(StatusCode::invalid_argument, "sampler: min_p %g must be in [0, 1]", static_cast<double>(o.min_p));
    }
    if (!(o.repetition_penalty > 0.0f) || !std::isfinite(o.repetition_penalty)) {
      return error(StatusCode::invalid_argument, "sampler: repetition_penalty %g must be a finite number > 0",
                   static_cast<double>(o.repetition_penalty));
    }
    if (!std::isfinite(o.presence_penalty) || !std::isfinite(o.frequency_penalty)) {
      return Status(StatusCode::invalid_argument, "sampler: presence and frequency penalties must be finite");
    }
    for (const auto& [id, bias] : o.logit_bias) {
      if (id < 0 || std::isnan(bias)) {
        return error(StatusCode::invalid_argument, "sampler: logit_bias entry for id %d is invalid", id);
      }
    }
    return Sampler(o);
  });
}

Result<TokenId> Sampler::sample(std::span<const float> logits, std::span<const TokenId> history,
                                uint64_t position) const noexcept {
  return guard("Sampler::sample", [&]() -> Result<TokenId> {
    const SamplerOptions& o = options_;
    const size_t vocab = logits.size();
    if (vocab == 0) return Status(StatusCode::invalid_argument, "sampler: no logits");
    std::vector<Candidate> c(vocab);
    for (size_t i = 0; i < vocab; ++i) c[i] = Candidate{static_cast<TokenId>(i), logits[i]};

    for (const auto& [id, bias] : o.logit_bias) {
      if (static_cast<size_t>(id) >= vocab) {
        return error(StatusCode::invalid_argument, "sampler: logit_bias id %d is outside the %zu logits", id, vocab);
      }
      c[static_cast<size_t>(id)].logit += bias;
    }
    const bool penalties = o.repetition_penalty != 1.0f || o.presence_penalty != 0.0f || o.frequency_penalty != 0.0f;
    if (penalties && !history.empty()) {
      const size_t window = o.penalty_last_n == 0 ? history.size() : std::min(o.penalty_last_n, history.size());
      std::unordered_map<TokenId, int> counts;
      for (TokenId id : history.last(window)) {
        if (id >= 0 && static_cast<size_t>(id) < vocab) ++counts[id];
      }
      for (const auto& [id, count] : counts) {
        float& l = c[static_cast<size_t>(id)].logit;
        l = l > 0 ? l / o.repetition_penalty : l * o.repetition_penalty;
        l -= o.presence_penalty + o.frequency_penalty * static_cast<float>(count);
      }
    }
    if (o.temperature == 0.0f) {
      return std::min_element(c.begin(), c.end(), before)->id;  // arg-max, lowest id on ties
    }
    for (Candidate& x : c) x.logit /= o.temperature;

    // Filters cut a prefix of the candidates in `before` order. Only that
    // prefix is sorted: top-k bounds it, top-p / min-p grow it as they walk.
    const float top = std::min_element(c.begin(), c.end(), before)->logit;
    size_t keep = vocab, sorted = 0;
    auto sort_prefix = [&](size_t n) {
      n = std::min(n, keep);
      if (n <= sorted) return;
      std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(n),
                        c.begin() + static_cast<std::ptrdiff_t>(keep), before);
      sorted = n;
    };
    if (o.top_k > 0) {
      sort_prefix(o.top_k);
      keep = sorted;
    }
    if (o.top_p < 1.0f || o.min_p > 0.0f) {
      double total = 0;  // over what top-k kept: top-p renormalises after it
      for (size_t i = 0; i < keep; ++i) total += std::exp(static_cast<double>(c[i].logit - top));
      double mass = 0;
      for (size_t i = 0; i < keep; ++i) {
        if (i == sorted) sort_prefix(std::max<size_t>(256, 4 * sorted));
        const double relative = std::exp(static_cast<double>(c[i].logit - top));  // p / p_top
        if (relative < static_cast<double>(o.min_p)) {
          keep = std::max<size_t>(i, 1);
          break;
        }
        mass += relative / total;
        if (o.top_p < 1.0f && mass >= static_cast<double>(o.top_p)) {
          keep = i + 1;
          break;
        }
      }
    }
    // Draw from the kept candidates (in sorted order when filtered).
    double kept_total = 0;
    for (size_t i = 0; i < keep; ++i) kept_total += std::exp(static_cast<double>(c[i].logit - top));
    const double target = sampling_uniform(o.seed, position) * kept_total;
    double running = 0;
    for (size_t i = 0; i < keep; ++i) {
      running += std::exp(static_cast<double>(c[i].logit - top));
      if (running > target) return c[i].id;
    }
    return c[keep - 1].id;  // rounding left the target at the very end
  });
}

}  // namespace ossrt
