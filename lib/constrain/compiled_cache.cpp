#include "constrain/compiled_cache.h"

#include <algorithm>
#include <deque>
#include <mutex>
#include <string>
#include <utility>

#include "util/errors.h"

namespace ossrt::constrain {

Result<std::shared_ptr<const Grammar>> cached_grammar(std::string_view schema) noexcept {
  return guard("cached_grammar", [&]() -> Result<std::shared_ptr<const Grammar>> {
    constexpr size_t kCapacity = 64;
    static std::mutex mutex;
    static std::deque<std::pair<std::string, std::shared_ptr<const Grammar>>> recent;  // most recent first
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto hit = std::find_if(recent.begin(), recent.end(), [&](const auto& e) { return e.first == schema; });
      if (hit != recent.end()) {
        auto entry = std::move(*hit);
        recent.erase(hit);
        recent.push_front(std::move(entry));
        return recent.front().second;
      }
    }
    // Compiled outside the lock: another schema's compile need not wait.
    auto compiled = Grammar::from_json_schema(schema);
    if (!compiled.ok()) return compiled.status();
    std::lock_guard<std::mutex> lock(mutex);
    recent.emplace_front(std::string(schema), compiled.value());
    if (recent.size() > kCapacity) recent.pop_back();
    return compiled.value();
  });
}

Result<std::shared_ptr<const TokenVocabulary>> cached_vocabulary(std::shared_ptr<const Tokenizer> tokenizer) noexcept {
  return guard("cached_vocabulary", [&]() -> Result<std::shared_ptr<const TokenVocabulary>> {
    if (!tokenizer) return error(StatusCode::invalid_argument, "cached_vocabulary: no tokenizer");
    auto builtin = Tokenizer::o200k_harmony();
    if (builtin.ok() && builtin.value() == tokenizer) return TokenVocabulary::o200k_harmony();
    static std::mutex mutex;
    static std::deque<std::pair<std::shared_ptr<const Tokenizer>, std::shared_ptr<const TokenVocabulary>>> built;
    std::lock_guard<std::mutex> lock(mutex);
    for (const auto& [owner, vocabulary] : built)
      if (owner == tokenizer) return vocabulary;
    auto vocabulary = TokenVocabulary::from_tokenizer(tokenizer);
    if (!vocabulary.ok()) return vocabulary.status();
    built.emplace_front(tokenizer, vocabulary.value());
    if (built.size() > 4) built.pop_back();
    return vocabulary.value();
  });
}

}  // namespace ossrt::constrain
