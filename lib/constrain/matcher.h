// The incremental byte matcher: a pushdown automaton over a Grammar. A state
// is a set of threads (more than one only while anyOf branches or a declared
// vs. an extra object key are both still possible), each a stack of frames.
//
// ByteStepper is the stateless transition function (shared, thread-safe);
// Matcher keeps one request's history for checkpoint/rollback.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "constrain/grammar.h"

namespace ossrt::constrain {

enum class FrameKind : uint8_t { value, object, array, string, number, literal, key, exit };

// One level of nesting. The meaning of phase/aux/a/b/c depends on the kind
// (see matcher.cpp); frames compare bytewise, which dedupes threads.
struct Frame {
  FrameKind kind = FrameKind::value;
  uint8_t phase = 0;
  uint8_t aux = 0;
  uint8_t flags = 0;
  int32_t node = -1;
  int32_t a = 0;
  int32_t b = 0;
  int64_t c = 0;
  bool operator==(const Frame&) const = default;
};

// String frame flags.
inline constexpr uint8_t kFreeKey = 1;  // the key of an extra object member
inline constexpr uint8_t kLifted = 2;   // length limits not checked (mask cache walks)

struct State {
  std::vector<Frame> frames;   // the threads' stacks back to back
  std::vector<uint32_t> ends;  // end of each thread in `frames`; empty: no thread left (rejected)

  size_t thread_count() const noexcept { return ends.size(); }
  size_t begin_of(size_t thread) const noexcept { return thread == 0 ? 0 : ends[thread - 1]; }
  void clear() noexcept {
    frames.clear();
    ends.clear();
  }
  void add_thread(const Frame* first, size_t count);
};

class ByteStepper {
 public:
  explicit ByteStepper(std::shared_ptr<const Grammar> grammar) : grammar_(std::move(grammar)) {}

  State initial() const;
  // `to` = the state after `byte` (cleared first). Returns false when no
  // thread accepts it. An exit frame that is handed a byte sets *exited.
  bool advance(const State& from, uint8_t byte, State& to, bool* exited = nullptr) const;
  // Whether the value may end here (for <|return|>/<|call|>).
  bool complete(const State& state) const;
  // Ends the string or number on top of a single-thread stack as if it had
  // just closed (the mask cache continues from there). False when it cannot close.
  bool close_top(std::vector<Frame>& stack) const;

  const Grammar& grammar() const noexcept { return *grammar_; }
  const std::shared_ptr<const Grammar>& grammar_ptr() const noexcept { return grammar_; }

 private:
  void feed(std::vector<Frame>& stack, uint8_t byte, State& out, bool* exited) const;
  bool start_key(std::vector<Frame>& stack, State& out) const;
  // The containers on a thread's stack, and whether a value of `node` fits below them.
  static uint32_t containers(const std::vector<Frame>& stack);
  bool fits(int32_t node, uint32_t depth) const;
  // Declared properties [first, last] that may come next, and whether an extra member may.
  struct KeyChoice {
    int32_t first = 0, last = -1;
    bool extra = false;
  };
  KeyChoice key_choice(const Frame& object, uint32_t depth) const;
  void value_done(std::vector<Frame>& stack) const;
  bool number_in_range(const Frame& f) const;
  bool number_feasible(const Frame& f) const;
  bool frame_can_end(const Frame& f) const;

  std::shared_ptr<const Grammar> grammar_;
};

// One request's matcher: accepts bytes, answers what may come next, and
// rolls back to any earlier checkpoint.
class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const Grammar> grammar);

  // All of `bytes` or nothing: false (and unchanged) when they are not allowed.
  bool accept(std::string_view bytes);
  bool allows_byte(uint8_t byte) const;
  bool is_complete() const { return stepper_.complete(history_.back()); }

  // Checkpoints count accepted chunks: rollback_to(checkpoint()) after
  // accept() undoes it.
  size_t checkpoint() const noexcept { return history_.size(); }
  void rollback_to(size_t checkpoint);

  const State& state() const noexcept { return history_.back(); }
  const ByteStepper& stepper() const noexcept { return stepper_; }

 private:
  ByteStepper stepper_;
  std::vector<State> history_;
  mutable State scratch_[2];
};

}  // namespace ossrt::constrain
