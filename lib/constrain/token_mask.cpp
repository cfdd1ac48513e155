#include "constrain/token_mask.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace ossrt::constrain {
namespace {

// One shared cache per live vocabulary.
std::shared_ptr<MaskCache> shared_cache_for(const std::shared_ptr<const TokenVocabulary>& vocabulary) {
  static std::mutex mutex;
  static std::vector<std::pair<std::weak_ptr<const TokenVocabulary>, std::shared_ptr<MaskCache>>> caches;
  std::lock_guard<std::mutex> lock(mutex);
  std::erase_if(caches, [](const auto& c) { return c.first.expired(); });
  for (const auto& c : caches)
    if (c.first.lock() == vocabulary) return c.second;
  caches.emplace_back(vocabulary, std::make_shared<MaskCache>());
  return caches.back().second;
}

}  // namespace

size_t TokenMask::count() const noexcept {
  size_t n = 0;
  for (uint64_t w : words_) n += static_cast<size_t>(std::popcount(w));
  return n;
}

std::shared_ptr<const MaskCacheEntry> MaskCache::find(const Key& key) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second;
}

void MaskCache::insert(const Key& key, std::shared_ptr<const MaskCacheEntry> entry) {
  constexpr size_t kMaxGrammarBound = 512;
  std::lock_guard<std::mutex> lock(mutex_);
  if (key.grammar != 0 && ++grammar_bound_ > kMaxGrammarBound) {
    std::erase_if(entries_, [](const auto& e) { return e.first.grammar != 0; });
    grammar_bound_ = 1;
  }
  entries_.emplace(key, std::move(entry));
}

MaskComputer::MaskComputer(std::shared_ptr<const TokenVocabulary> vocabulary, std::shared_ptr<const Grammar> grammar)
    : vocabulary_(std::move(vocabulary)), stepper_(std::move(grammar)), cache_(shared_cache_for(vocabulary_)) {}

template <class Visit>
void MaskComputer::walk(const ByteTrie& trie, const State& start, Visit&& visit) {
  if (states_.empty()) states_.resize(1);
  states_[0] = start;
  const size_t n = trie.size();
  for (size_t i = 1; i < n;) {
    const uint32_t d = trie.depth(i);
    if (states_.size() <= d) states_.resize(d + 1);
    bool exited = false;
    if (!stepper_.advance(states_[d - 1], trie.byte(i), states_[d], &exited)) {
      i = trie.subtree_end(i);
      continue;
    }
    i = visit(i, d, states_[d], exited) ? i + 1 : trie.subtree_end(i);
  }
}

bool MaskComputer::cacheable(const Frame& top) const {
  const Node& n = stepper_.grammar().node(top.node);
  if (top.kind == FrameKind::string) return top.phase != 0;
  return top.kind == FrameKind::number && !n.bounded;
}

std::shared_ptr<const MaskCacheEntry> MaskComputer::entry_for(const Frame& top) {
  const Node& n = stepper_.grammar().node(top.node);
  const bool string = top.kind == FrameKind::string;
  const bool grammar_bound = string && (n.dfa >= 0 || (top.flags & kFreeKey)) && top.b >= 0;
  const uint64_t frame = static_cast<uint64_t>(top.kind) | uint64_t{top.phase} << 8 | uint64_t{top.aux} << 16 |
                         uint64_t{static_cast<uint8_t>(top.flags & ~kLifted)} << 24 |
                         uint64_t{!string && n.integer} << 32 | uint64_t{string && n.dfa >= 0} << 33;
  // Strings: the pattern state or key-trie node; numbers: the digit counts their limits depend on.
  const int64_t detail = string ? (grammar_bound ? top.b : -1) : top.b * 4 + top.c;
  const MaskCache::Key key{frame, detail, grammar_bound ? stepper_.grammar().serial() : 0};
  MaskCache& cache = *cache_;
  if (auto found = cache.find(key)) {
    ++stats_.cache_hits;
    return found;
  }
  auto built = build_entry(top);
  ++stats_.entries_built;
  cache.insert(key, built);
  return built;
}

std::shared_ptr<const MaskCacheEntry> MaskComputer::build_entry(const Frame& top) {
  auto entry = std::make_shared<MaskCacheEntry>();
  entry->inside.assign((vocabulary_->vocab_size() + 63) / 64, 0);
  Frame exit;
  exit.kind = FrameKind::exit;
  Frame lexeme = top;
  lexeme.a = 0;  // characters are counted from here
  if (lexeme.kind == FrameKind::string) lexeme.flags |= kLifted;
  State local;
  const Frame frames[2] = {exit, lexeme};
  local.add_thread(frames, 2);
  const bool string = top.kind == FrameKind::string;
  const Node& node = stepper_.grammar().node(top.node);
  const DfaPool& dfas = stepper_.grammar().dfas();
  // need and reach of the prefix ending at each depth of the walk (the
  // lifted walk does not check the limits; fill applies them per count).
  std::vector<int32_t> need_at(1, 0), reach_at(1, StringToken::kNoReach);
  std::vector<ByteTrie::Entry> suffixes;
  const ByteTrie& trie = vocabulary_->trie();
  // An exit's limits are its prefixes' before the closing quote (which
  // changes neither).
  auto add_exit = [&](int32_t token, int32_t chars, uint32_t d) {
    entry->exits.push_back({token, chars, need_at[d], reach_at[d]});
  };
  walk(trie, local, [&](size_t i, uint32_t d, const State& s, bool exited) {
    if (exited) {
      if (d == 1) {
        entry->exit_at_start = true;
        return false;
      }
      const int32_t chars = s.frames[0].a;
      for (size_t j = i; j < trie.subtree_end(i); ++j)
        for (const int32_t* p = trie.payload_begin(j); p != trie.payload_end(j); ++p) {
          suffixes.push_back({vocabulary_->bytes(*p).substr(d - 1), static_cast<int32_t>(entry->exits.size())});
          add_exit(*p, chars, d - 1);
        }
      return false;
    }
    if (need_at.size() <= d) {
      need_at.resize(d + 1);
      reach_at.resize(d + 1);
    }
    need_at[d] = need_at[d - 1];
    reach_at[d] = reach_at[d - 1];
    if (s.frames.size() == 2) {
      const Frame& f = s.frames[1];
      int32_t need = f.a, reach = StringToken::kNoReach;
      if (string && node.dfa >= 0) {
        need += dfas.min_to_accept(f.b);
        if (dfas.max_to_accept(f.b) != DfaPool::kUnbounded) reach = f.a + dfas.max_to_accept(f.b);
      }
      need_at[d] = std::max(need_at[d], need);
      reach_at[d] = std::min(reach_at[d], reach);
    }
    for (const int32_t* p = trie.payload_begin(i); p != trie.payload_end(i); ++p) {
      if (s.frames.size() == 1) {  // closed exactly at the token's end
        suffixes.push_back({std::string_view(), static_cast<int32_t>(entry->exits.size())});
        add_exit(*p, s.frames[0].a, d);
      } else {
        entry->inside[static_cast<size_t>(*p) >> 6] |= uint64_t{1} << (*p & 63);
        if (string) {
          entry->by_need.push_back({*p, s.frames[1].a, need_at[d], reach_at[d]});
          entry->least_reach = std::min(entry->least_reach, reach_at[d]);
        }
      }
    }
    return true;
  });
  std::stable_sort(entry->by_need.begin(), entry->by_need.end(),
                   [](const StringToken& x, const StringToken& y) { return x.need < y.need; });
  entry->suffixes = ByteTrie::build(std::move(suffixes));
  return entry;
}

void MaskComputer::fill(const State& state, TokenMask& mask) {
  ++stats_.fills;
  mask.clear();
  auto set = [&](int32_t token) { mask.set(token); };
  const ByteTrie& vocab_trie = vocabulary_->trie();
  auto set_payloads = [&](size_t i, uint32_t, const State&, bool) {
    for (const int32_t* p = vocab_trie.payload_begin(i); p != vocab_trie.payload_end(i); ++p) set(*p);
    return true;
  };
  if (state.thread_count() != 1 || state.frames.empty() || !cacheable(state.frames.back())) {
    walk(vocab_trie, state, set_payloads);
    return;
  }
  const Frame top = state.frames.back();
  const std::shared_ptr<const MaskCacheEntry> entry = entry_for(top);
  const Node& n = stepper_.grammar().node(top.node);
  const bool string = top.kind == FrameKind::string;
  const uint64_t count = string ? static_cast<uint64_t>(top.a) : 0;
  const uint64_t min_total = string ? n.min_length : 0;
  const uint64_t max_total = string ? n.max_length : UINT32_MAX;

  // Whether a token's prefixes keep the string within its limits at this count.
  auto within_limits = [&](const StringToken& t) {
    return count + static_cast<uint64_t>(t.need) <= max_total &&
           (t.reach == StringToken::kNoReach || count + static_cast<uint64_t>(t.reach) >= min_total);
  };
  // Tokens that stay inside: all of them unless a limit is near.
  const uint64_t room = max_total - std::min(count, max_total);
  const bool reach_matters =
      entry->least_reach != StringToken::kNoReach && count + static_cast<uint64_t>(entry->least_reach) < min_total;
  const std::vector<StringToken>& by_need = entry->by_need;
  const auto over = std::upper_bound(by_need.begin(), by_need.end(), room, [](uint64_t r, const StringToken& t) {
    return r < static_cast<uint64_t>(t.need);
  });
  if (string && reach_matters) {
    for (auto t = by_need.begin(); t != over; ++t)
      if (within_limits(*t)) set(t->token);
  } else if (string && over - by_need.begin() < by_need.end() - over) {
    // Few tokens fit (a maxLength is near): set them.
    for (auto t = by_need.begin(); t != over; ++t) set(t->token);
  } else {
    // Most fit: all of them, less those too long.
    std::memcpy(mask.words().data(), entry->inside.data(), entry->inside.size() * sizeof(uint64_t));
    for (auto t = over; t != by_need.end(); ++t) mask.reset(t->token);
  }

  // Tokens that close the frame: the parent state must take what follows.
  State parent;
  std::vector<Frame> stack(state.frames.begin(), state.frames.end());
  if (!stepper_.close_top(stack)) return;
  parent.add_thread(stack.data(), stack.size());
  if (entry->exit_at_start) walk(vocab_trie, parent, set_payloads);
  auto take_exits = [&](const ByteTrie& trie, size_t i) {
    for (const int32_t* p = trie.payload_begin(i); p != trie.payload_end(i); ++p) {
      const StringToken& t = entry->exits[static_cast<size_t>(*p)];
      const uint64_t total = count + static_cast<uint64_t>(t.chars);
      if (total >= min_total && total <= max_total && within_limits(t)) set(t.token);
    }
  };
  const ByteTrie& suffixes = entry->suffixes;
  if (suffixes.size() == 0) return;
  take_exits(suffixes, 0);  // the empty suffix: the token ends with the close
  walk(suffixes, parent, [&](size_t i, uint32_t, const State&, bool) {
    take_exits(suffixes, i);
    return true;
  });
}

// ---- TokenMatcher ----

TokenMatcher::TokenMatcher(std::shared_ptr<const TokenVocabulary> vocabulary, std::shared_ptr<const Grammar> grammar)
    : vocabulary_(vocabulary), matcher_(grammar), masks_(std::move(vocabulary), std::move(grammar)) {}

bool TokenMatcher::accept_token(TokenId id) {
  if (id < 0 || static_cast<size_t>(id) >= vocabulary_->vocab_size() || vocabulary_->is_special(id)) return false;
  return matcher_.accept(vocabulary_->bytes(id));
}

void TokenMatcher::rollback(size_t count) {
  const size_t accepted = accepted_count();
  matcher_.rollback_to(matcher_.checkpoint() - std::min(count, accepted));
}

}  // namespace ossrt::constrain
