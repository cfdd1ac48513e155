// Byte tries laid out in depth-first order, so that a walk is one forward
// pass that skips a rejected subtree by jumping to its end. Built once per
// tokenizer for the vocabulary (TokenVocabulary) and per mask-cache entry for
// the suffixes that follow a closed string or number.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ossrt/status.hpp"
#include "ossrt/tokenizer.hpp"

namespace ossrt::constrain {

class ByteTrie {
 public:
  struct Entry {
    std::string_view bytes;
    int32_t payload;
  };
  // Entries in any order; equal byte strings share a node.
  static ByteTrie build(std::vector<Entry> entries);

  size_t size() const noexcept { return byte_.size(); }
  uint8_t byte(size_t node) const noexcept { return byte_[node]; }
  uint32_t depth(size_t node) const noexcept { return depth_[node]; }
  // One past the last node of `node`'s subtree.
  uint32_t subtree_end(size_t node) const noexcept { return end_[node]; }
  // Payloads of the entries that end at `node`.
  const int32_t* payload_begin(size_t node) const noexcept { return payloads_.data() + pay_begin_[node]; }
  const int32_t* payload_end(size_t node) const noexcept { return payloads_.data() + pay_begin_[node + 1]; }

 private:
  std::vector<uint8_t> byte_;
  std::vector<uint32_t> depth_;
  std::vector<uint32_t> end_;
  std::vector<uint32_t> pay_begin_;  // size()+1 prefix offsets into payloads_
  std::vector<int32_t> payloads_;
};

// The ordinary tokens' bytes in a trie (special tokens never appear: the
// JSON mask never allows them). Immutable; share one per tokenizer.
class TokenVocabulary {
 public:
  static Result<std::shared_ptr<const TokenVocabulary>> from_tokenizer(
      std::shared_ptr<const Tokenizer> tokenizer) noexcept;
  // The built-in o200k_harmony vocabulary, built once per process.
  static Result<std::shared_ptr<const TokenVocabulary>> o200k_harmony() noexcept;

  const ByteTrie& trie() const noexcept { return trie_; }
  std::string_view bytes(TokenId id) const noexcept { return tokens_[static_cast<size_t>(id)]; }
  size_t vocab_size() const noexcept { return tokens_.size(); }
  bool is_special(TokenId id) const noexcept { return special_[static_cast<size_t>(id)] != 0; }

 private:
  std::vector<std::string_view> tokens_;  // views into the tokenizer's storage
  std::vector<uint8_t> special_;
  std::shared_ptr<const Tokenizer> tokenizer_;  // owns the bytes tokens_ views
  ByteTrie trie_;
};

}  // namespace ossrt::constrain
