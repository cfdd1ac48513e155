#include "constrain/token_trie.h"

#include <algorithm>

#include "util/errors.h"

namespace ossrt::constrain {

ByteTrie ByteTrie::build(std::vector<Entry> entries) {
  std::sort(entries.begin(), entries.end(), [](const Entry& x, const Entry& y) { return x.bytes < y.bytes; });
  ByteTrie t;
  t.byte_.push_back(0);
  t.depth_.push_back(0);
  t.end_.push_back(0);
  t.pay_begin_.push_back(0);
  std::vector<uint32_t> path{0};  // path[d] = node at depth d on the current branch
  std::string_view previous;
  for (const Entry& e : entries) {
    size_t common = 0;
    while (common < previous.size() && common < e.bytes.size() && previous[common] == e.bytes[common]) ++common;
    while (path.size() > common + 1) {
      t.end_[path.back()] = static_cast<uint32_t>(t.byte_.size());
      path.pop_back();
    }
    for (size_t d = common; d < e.bytes.size(); ++d) {
      path.push_back(static_cast<uint32_t>(t.byte_.size()));
      t.byte_.push_back(static_cast<uint8_t>(e.bytes[d]));
      t.depth_.push_back(static_cast<uint32_t>(d + 1));
      t.end_.push_back(0);
      t.pay_begin_.push_back(static_cast<uint32_t>(t.payloads_.size()));
    }
    // Sorted input: the entry ends at the newest node (or repeats it).
    t.payloads_.push_back(e.payload);
    previous = e.bytes;
  }
  while (!path.empty()) {
    t.end_[path.back()] = static_cast<uint32_t>(t.byte_.size());
    path.pop_back();
  }
  t.pay_begin_.push_back(static_cast<uint32_t>(t.payloads_.size()));
  return t;
}

Result<std::shared_ptr<const TokenVocabulary>> TokenVocabulary::from_tokenizer(
    std::shared_ptr<const Tokenizer> tokenizer) noexcept {
  return guard("TokenVocabulary::from_tokenizer", [&]() -> Result<std::shared_ptr<const TokenVocabulary>> {
    if (!tokenizer) return error(StatusCode::invalid_argument, "TokenVocabulary: no tokenizer");
    auto vocab = std::make_shared<TokenVocabulary>();
    vocab->tokenizer_ = tokenizer;
    const size_t n = tokenizer->vocab_size();
    vocab->tokens_.resize(n);
    vocab->special_.resize(n, 0);
    std::vector<ByteTrie::Entry> entries;
    entries.reserve(n);
    for (size_t id = 0; id < n; ++id) {
      const auto token = static_cast<TokenId>(id);
      if (tokenizer->is_special(token)) {
        vocab->special_[id] = 1;
        continue;
      }
      auto bytes = tokenizer->token_bytes(token);
      if (!bytes.ok()) return bytes.status();
      vocab->tokens_[id] = bytes.value();
      if (!bytes.value().empty()) entries.push_back({bytes.value(), token});
    }
    vocab->trie_ = ByteTrie::build(std::move(entries));
    return std::shared_ptr<const TokenVocabulary>(std::move(vocab));
  });
}

Result<std::shared_ptr<const TokenVocabulary>> TokenVocabulary::o200k_harmony() noexcept {
  return guard("TokenVocabulary::o200k_harmony", []() -> Result<std::shared_ptr<const TokenVocabulary>> {
    static const Result<std::shared_ptr<const TokenVocabulary>> built =
        []() -> Result<std::shared_ptr<const TokenVocabulary>> {
      auto tokenizer = Tokenizer::o200k_harmony();
      if (!tokenizer.ok()) return tokenizer.status();
      return from_tokenizer(tokenizer.value());
    }();
    return built;
  });
}

}  // namespace ossrt::constrain
