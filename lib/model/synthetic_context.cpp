// Synthetic context: a session filled with random keys and values for benchmarks.
#include <random>
#include <vector>

#include "model/session_impl.h"
#include "ossrt/synthetic.hpp"
#include "util/errors.h"

namespace ossrt {

Status fill_synthetic_context(Session& session, size_t positions, uint64_t seed) noexcept {
  return guard("fill_synthetic_context", [&]() -> Status {
    Session::Impl& s = *session.impl_;
    if (!s.tokens.empty())
      return error(StatusCode::invalid_state, "fill_synthetic_context: the session already holds %zu tokens",
                   s.tokens.size());
    if (positions > s.options.context_length)
      return error(StatusCode::context_overflow, "fill_synthetic_context: %zu positions exceed the context length %zu",
                   positions, s.options.context_length);
    if (Status st = s.cache.reserve(positions); !st.ok()) return st;
    std::mt19937 rng(static_cast<uint32_t>(seed));
    std::uniform_real_distribution<float> value(-1.0f, 1.0f);
    const size_t width = s.cache.layout().width;
    constexpr size_t kBatch = 256;  // positions written per call
    std::vector<float> keys(kBatch * width), values(kBatch * width);
    for (size_t layer = 0; layer < s.cache.layout().layers; ++layer) {
      for (size_t first = s.cache.held_from(layer, positions); first < positions; first += kBatch) {
        const size_t count = std::min(kBatch, positions - first);
        for (size_t i = 0; i < count * width; ++i) {
          keys[i] = value(rng);
          values[i] = value(rng);
        }
        s.cache.write_positions(layer, first, count, keys.data(), values.data());
      }
    }
    std::uniform_int_distribution<TokenId> id(0, static_cast<TokenId>(s.m().config().vocab_size - 1));
    s.tokens.resize(positions);
    for (TokenId& token : s.tokens) token = id(rng);
    s.logits.clear();
    return Status::success();
  });
}

}  // namespace ossrt
