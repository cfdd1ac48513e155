#include "ossrt/sampler.hpp"

#include <cmath>

#include "sampling/sampler_chain.h"
#include "util/errors.h"

namespace ossrt {

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
  return guard("Sampler::sample", [&] { return run_sampler_chain(options_, logits, history, position, nullptr); });
}

}  // namespace ossrt
