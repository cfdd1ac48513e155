#include "sampling/scaled_logits.h"

#include <algorithm>
#include <limits>
#include <unordered_map>

#include "sampling/vocabulary_passes.h"
#include "util/errors.h"

namespace ossrt {
namespace {

// The logits of the few tokens the bias and penalties touch, adjusted in the
// chain's order: every bias entry, then the penalties on the biased value.
Result<std::unordered_map<size_t, float>> adjusted_logits(const SamplerOptions& o, std::span<const float> logits,
                                                          std::span<const TokenId> history) {
  std::unordered_map<size_t, float> adjusted;
  for (const auto& [id, bias] : o.logit_bias) {
    const size_t i = static_cast<size_t>(id);
    if (i >= logits.size()) {
      return error(StatusCode::invalid_argument, "sampler: logit_bias id %d is outside the %zu logits", id,
                   logits.size());
    }
    adjusted.try_emplace(i, logits[i]).first->second += bias;
  }
  const bool penalties = o.repetition_penalty != 1.0f || o.presence_penalty != 0.0f || o.frequency_penalty != 0.0f;
  if (!penalties || history.empty()) return adjusted;
  const size_t window = o.penalty_last_n == 0 ? history.size() : std::min(o.penalty_last_n, history.size());
  std::unordered_map<size_t, int> counts;
  for (TokenId id : history.last(window)) {
    if (id >= 0 && static_cast<size_t>(id) < logits.size()) ++counts[static_cast<size_t>(id)];
  }
  for (const auto& [i, count] : counts) {
    float& l = adjusted.try_emplace(i, logits[i]).first->second;
    l = l > 0 ? l / o.repetition_penalty : l * o.repetition_penalty;
    l -= o.presence_penalty + o.frequency_penalty * static_cast<float>(count);
  }
  return adjusted;
}

}  // namespace

Result<ScaledLogits> scale_logits(const SamplerOptions& o, std::span<const float> logits,
                                  std::span<const TokenId> history, std::vector<float>& scratch) {
  auto adjusted = adjusted_logits(o, logits, history);
  if (!adjusted.ok()) return adjusted.status();
  std::vector<float>& x = scratch;
  x.resize(logits.size());
  const bool scaled = o.temperature != 0.0f;
  if (scaled) {
    divide(logits, o.temperature, x);
  } else {
    std::copy(logits.begin(), logits.end(), x.begin());
  }
  for (const auto& [i, l] : adjusted.value()) x[i] = scaled ? l / o.temperature : l;

  const ValueRange range = value_range(x);
  if (range.has_nan) {
    const size_t id = static_cast<size_t>(std::find_if(x.begin(), x.end(), [](float l) { return l != l; }) - x.begin());
    return error(StatusCode::invalid_argument, "sampler: the logit of token %zu is NaN (after bias and penalties)", id);
  }
  if (std::isinf(range.top)) {
    constexpr float kInfinity = std::numeric_limits<float>::infinity();
    for (float& l : x) l = l == range.top ? 0.0f : -kInfinity;
    return ScaledLogits{x, 0.0f, range.lowest == range.top ? 0.0f : -kInfinity, range.top_index};
  }
  return ScaledLogits{x, range.top, range.lowest, range.top_index};
}

}  // namespace ossrt
