#include "tokenizer/bpe.h"

#include <algorithm>
#include <functional>
#include <limits>

namespace ossrt {
namespace {

struct Candidate {
  uint32_t rank;
  uint32_t left;        // index of the left part (its byte offset: leftmost wins ties)
  uint32_t left_stamp;  // stamps at push time; a changed stamp means a stale candidate
  uint32_t right_stamp;
  bool operator>(const Candidate& other) const { return rank != other.rank ? rank > other.rank : left > other.left; }
};

struct Scratch {
  std::vector<uint32_t> next, prev, stamp;
  std::vector<Candidate> heap;
};

}  // namespace

void bpe_encode(const Vocabulary& vocabulary, std::string_view piece, std::vector<int32_t>& out) {
  if (auto whole = vocabulary.rank_of(piece)) {
    out.push_back(static_cast<int32_t>(*whole));
    return;
  }
  // Parts are kept as a linked list over byte offsets; part i spans [i, next[i]).
  const uint32_t n = static_cast<uint32_t>(piece.size());
  constexpr uint32_t kEnd = std::numeric_limits<uint32_t>::max();
  // Per-thread scratch: most pieces are short, and allocating per piece dominated.
  thread_local Scratch scratch;
  std::vector<uint32_t>& next = scratch.next;
  std::vector<uint32_t>& prev = scratch.prev;
  std::vector<uint32_t>& stamp = scratch.stamp;
  next.resize(n);
  prev.resize(n);
  stamp.assign(n, 0);
  for (uint32_t i = 0; i < n; ++i) {
    next[i] = i + 1 < n ? i + 1 : kEnd;
    prev[i] = i > 0 ? i - 1 : kEnd;
  }
  auto end_of = [&](uint32_t i) { return next[i] == kEnd ? n : next[i]; };
  std::vector<Candidate>& heap = scratch.heap;
  heap.clear();
  const auto later = std::greater<Candidate>();
  auto push = [&](const Candidate& c) {
    heap.push_back(c);
    std::push_heap(heap.begin(), heap.end(), later);
  };
  auto push_pair = [&](uint32_t left) {
    if (left == kEnd || next[left] == kEnd) return;
    const uint32_t right = next[left];
    if (auto rank = vocabulary.rank_of(piece.substr(left, end_of(right) - left))) {
      push(Candidate{*rank, left, stamp[left], stamp[right]});
    }
  };
  for (uint32_t i = 0; i + 1 < n; ++i) push_pair(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Candidate c = heap.back();
    heap.pop_back();
    const uint32_t right = next[c.left];
    if (stamp[c.left] != c.left_stamp || right == kEnd || stamp[right] != c.right_stamp) continue;
    // Merge right into left.
    next[c.left] = next[right];
    if (next[right] != kEnd) prev[next[right]] = c.left;
    ++stamp[c.left];
    ++stamp[right];
    push_pair(prev[c.left]);
    push_pair(c.left);
  }
  for (uint32_t i = 0; i != kEnd && i < n; i = next[i]) {
    // Every surviving part is a token: single bytes always are, merges only make ranked ones.
    out.push_back(static_cast<int32_t>(*vocabulary.rank_of(piece.substr(i, end_of(i) - i))));
  }
}

}  // namespace ossrt
