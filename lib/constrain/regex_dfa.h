// A regular-expression subset compiled to a byte DFA, for JSON Schema's
// `pattern` and the supported `format`s.
//
// Supported: literals (UTF-8 too), classes [a-z0-9_] and [^...], escapes
// \d \w \s \D \W \S and escaped punctuation, `.`, ? * + {m} {m,} {m,n} (lazy
// forms mean the same language), alternation, groups ( ) (?: ), and the
// anchors ^ (first) and $ (last). Without ^ / $ the pattern may match
// anywhere, as JSON Schema says.
//
// The generated string never needs a JSON escape: classes, `.` and the
// negations range over printable ASCII without `"` and `\`, which keeps
// every string the DFA accepts a subset of the pattern's language.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "ossrt/status.hpp"

namespace ossrt::constrain {

// All DFAs of one grammar, in one table: states of different patterns never
// share ids, so a state id alone says where a string is.
class DfaPool {
 public:
  static constexpr uint16_t kUnbounded = 0xffff;

  // Adds `pattern` and returns its start state. Failure: invalid_argument
  // (syntax, unsupported construct, too many states) with the position in
  // the pattern.
  Result<int32_t> add(std::string_view pattern);

  int32_t next(int32_t state, uint8_t byte) const noexcept { return next_[static_cast<size_t>(state) * 256 + byte]; }
  bool accepting(int32_t state) const noexcept { return accepting_[static_cast<size_t>(state)] != 0; }
  // Fewest / most further bytes to an accepting state (kUnbounded: no limit).
  uint16_t min_to_accept(int32_t state) const noexcept { return min_to_accept_[static_cast<size_t>(state)]; }
  uint16_t max_to_accept(int32_t state) const noexcept { return max_to_accept_[static_cast<size_t>(state)]; }
  size_t state_count() const noexcept { return accepting_.size(); }

 private:
  std::vector<int32_t> next_;  // -1: no way on to an accepting state
  std::vector<uint8_t> accepting_;
  std::vector<uint16_t> min_to_accept_;
  std::vector<uint16_t> max_to_accept_;
};

}  // namespace ossrt::constrain
