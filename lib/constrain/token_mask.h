// Allowed-token masks over the whole vocabulary for a matcher state.
//
// The general way is a walk of the vocabulary trie, feeding each byte to
// the state and skipping every subtree whose prefix is refused. Inside a
// string or a number nearly every token is allowed, so that walk would visit
// the whole trie; there the mask depends only on the innermost frame (its
// phase), not on the stack beneath it. Such frames get a cache entry built
// by one walk of the frame alone: the tokens that stay inside it, and for
// the tokens that close it, the bytes after the close (grouped in a suffix
// trie). A cached step is then a bitset copy plus a walk of the few suffixes
// from the parent state. Entries that no grammar changes (plain strings,
// numbers) are shared by every grammar over the same vocabulary.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "constrain/matcher.h"
#include "constrain/token_trie.h"

namespace ossrt::constrain {

class TokenMask {
 public:
  explicit TokenMask(size_t vocab_size = 0) : size_(vocab_size), words_((vocab_size + 63) / 64, 0) {}
  void clear() noexcept { std::fill(words_.begin(), words_.end(), 0); }
  void set(TokenId id) noexcept { words_[static_cast<size_t>(id) >> 6] |= uint64_t{1} << (id & 63); }
  void reset(TokenId id) noexcept { words_[static_cast<size_t>(id) >> 6] &= ~(uint64_t{1} << (id & 63)); }
  bool test(TokenId id) const noexcept { return (words_[static_cast<size_t>(id) >> 6] >> (id & 63)) & 1; }
  size_t count() const noexcept;
  size_t vocab_size() const noexcept { return size_; }
  std::vector<uint64_t>& words() noexcept { return words_; }
  const std::vector<uint64_t>& words() const noexcept { return words_; }

 private:
  size_t size_;
  std::vector<uint64_t> words_;
};

// A token's walk through a string frame, counted from the frame's state:
// its characters, and the length limits its prefixes impose. A pattern's
// state after each byte needs lo more bytes to accept and allows at most hi
// (the matcher refuses a prefix when count + chars + lo > maxLength, or when
// count + chars + hi < minLength with hi bounded), so a token stays
// possible at count characters so far iff count + need <= maxLength and
// count + reach >= minLength. Plain strings: need = characters, no reach.
struct StringToken {
  static constexpr int32_t kNoReach = INT32_MAX;
  int32_t token;
  int32_t chars;  // characters (before the close, for exits)
  int32_t need;   // largest chars + lo over the token's prefixes
  int32_t reach;  // smallest chars + hi over its prefixes with hi bounded
};

struct MaskCacheEntry {
  std::vector<uint64_t> inside;                 // tokens that end inside the frame
  std::vector<StringToken> by_need;             // strings: the inside tokens, by need
  int32_t least_reach = StringToken::kNoReach;  // over by_need
  bool exit_at_start = false;                   // a complete number: the parent may take any token
  ByteTrie suffixes;                            // after the close; payload = index into exits
  std::vector<StringToken> exits;               // tokens that close the frame
};

// Entries by frame; those that depend on a grammar (pattern states, extra
// keys next to declared names) carry its serial and are dropped in bulk
// when there are too many.
class MaskCache {
 public:
  struct Key {
    uint64_t frame;
    int64_t detail;
    uint64_t grammar;  // 0: valid for every grammar
    auto operator<=>(const Key&) const = default;
  };
  std::shared_ptr<const MaskCacheEntry> find(const Key& key);
  void insert(const Key& key, std::shared_ptr<const MaskCacheEntry> entry);

 private:
  std::mutex mutex_;
  std::map<Key, std::shared_ptr<const MaskCacheEntry>> entries_;
  size_t grammar_bound_ = 0;
};

// Computes masks for one grammar. Not thread-safe: one per request (the
// cache it shares is).
class MaskComputer {
 public:
  MaskComputer(std::shared_ptr<const TokenVocabulary> vocabulary, std::shared_ptr<const Grammar> grammar);

  void fill(const State& state, TokenMask& mask);

  struct Stats {
    size_t fills = 0, cache_hits = 0, entries_built = 0;
  };
  const Stats& stats() const noexcept { return stats_; }
  const ByteStepper& stepper() const noexcept { return stepper_; }
  const TokenVocabulary& vocabulary() const noexcept { return *vocabulary_; }

 private:
  template <class Visit>
  void walk(const ByteTrie& trie, const State& start, Visit&& visit);
  bool cacheable(const Frame& top) const;
  std::shared_ptr<const MaskCacheEntry> entry_for(const Frame& top);
  std::shared_ptr<const MaskCacheEntry> build_entry(const Frame& top);

  std::shared_ptr<const TokenVocabulary> vocabulary_;
  ByteStepper stepper_;
  std::shared_ptr<MaskCache> cache_;  // per vocabulary, shared by every computer over it
  std::vector<State> states_;         // walk stack, one per depth
  Stats stats_;
};

// A matcher over tokens: what the sampler talks to.
class TokenMatcher {
 public:
  TokenMatcher(std::shared_ptr<const TokenVocabulary> vocabulary, std::shared_ptr<const Grammar> grammar);

  // False (and unchanged) for a token the grammar does not allow here.
  bool accept_token(TokenId id);
  void fill_mask(TokenMask& mask) { masks_.fill(matcher_.state(), mask); }
  bool is_complete() const { return matcher_.is_complete(); }
  // Undoes the last `count` accepted tokens (at most all of them).
  void rollback(size_t count);
  size_t accepted_count() const noexcept { return matcher_.checkpoint() - 1; }

  const MaskComputer::Stats& stats() const noexcept { return masks_.stats(); }
  Matcher& byte_matcher() noexcept { return matcher_; }

 private:
  std::shared_ptr<const TokenVocabulary> vocabulary_;
  Matcher matcher_;
  MaskComputer masks_;
};

}  // namespace ossrt::constrain
