#include "constrain/matcher.h"

#include <algorithm>

namespace ossrt::constrain {
namespace {

// Frame phases.
enum ObjectPhase : uint8_t { kObjBegin, kObjOpen, kObjNeedKey, kObjColon, kObjValue, kObjAfter };
enum ArrayPhase : uint8_t { kArrBegin, kArrOpen, kArrNeedItem, kArrValue, kArrAfter };
enum StringPhase : uint8_t { kStrBegin, kStrNormal, kStrEscape, kStrHex, kStrUtf8 };
enum NumberPhase : uint8_t { kNumStart, kNumMinus, kNumZero, kNumInt, kNumDot, kNumFrac, kNumE, kNumESign, kNumExp };

constexpr int32_t kMaxIntegerDigits = 18;
constexpr int64_t kMaxExponentDigits = 2;

// 128-bit arithmetic keeps the range checks of 19-digit integers exact.
__extension__ typedef __int128 Wide;

bool is_digit(uint8_t b) {
  return b >= '0' && b <= '9';
}
bool is_hex(uint8_t b) {
  return is_digit(b) || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F');
}

// Allowed range of the next UTF-8 continuation byte (the first one after
// E0/ED/F0/F4 is narrower: no overlong forms, surrogates or > U+10FFFF).
bool continuation_ok(uint8_t bounds, uint8_t b) {
  switch (bounds) {
    case 1:
      return b >= 0xa0 && b <= 0xbf;
    case 2:
      return b >= 0x80 && b <= 0x9f;
    case 3:
      return b >= 0x90 && b <= 0xbf;
    case 4:
      return b >= 0x80 && b <= 0x8f;
    default:
      return b >= 0x80 && b <= 0xbf;
  }
}

// Whether a value of the concrete node `n` may begin with `b`.
bool can_start(const Node& n, const LiteralTries& tries, uint8_t b) {
  switch (n.kind) {
    case NodeKind::object:
      return b == '{';
    case NodeKind::array:
      return b == '[';
    case NodeKind::string:
      return b == '"';
    case NodeKind::number:
      return b == '-' || is_digit(b);
    case NodeKind::literal:
      return tries.child(n.trie, b) >= 0;
    default:
      return false;
  }
}

int number_next(uint8_t phase, uint8_t b, bool integer) {
  const bool digit = is_digit(b);
  switch (phase) {
    case kNumStart:
      return b == '-' ? kNumMinus : b == '0' ? kNumZero : digit ? kNumInt : -1;
    case kNumMinus:
      return b == '0' ? kNumZero : digit ? kNumInt : -1;
    case kNumZero:
    case kNumInt:
      if (phase == kNumInt && digit) return kNumInt;
      if (integer) return -1;
      return b == '.' ? kNumDot : (b == 'e' || b == 'E') ? kNumE : -1;
    case kNumDot:
    case kNumFrac:
      if (digit) return kNumFrac;
      return phase == kNumFrac && (b == 'e' || b == 'E') ? kNumE : -1;
    case kNumE:
      return (b == '+' || b == '-') ? kNumESign : digit ? kNumExp : -1;
    case kNumESign:
    case kNumExp:
      return digit ? kNumExp : -1;
    default:
      return -1;
  }
}

bool number_phase_complete(uint8_t phase) {
  return phase == kNumZero || phase == kNumInt || phase == kNumFrac || phase == kNumExp;
}

}  // namespace

void State::add_thread(const Frame* first, size_t count) {
  frames.insert(frames.end(), first, first + count);
  ends.push_back(static_cast<uint32_t>(frames.size()));
}

State ByteStepper::initial() const {
  State state;
  Frame value;
  value.kind = FrameKind::value;
  value.node = grammar_->root();
  state.add_thread(&value, 1);
  return state;
}

bool ByteStepper::advance(const State& from, uint8_t byte, State& to, bool* exited) const {
  to.clear();
  // One scratch stack per thread: advance() is the walk's inner loop and must not allocate.
  thread_local std::vector<Frame> stack;
  for (size_t t = 0; t < from.thread_count(); ++t) {
    stack.assign(from.frames.begin() + static_cast<ptrdiff_t>(from.begin_of(t)),
                 from.frames.begin() + static_cast<ptrdiff_t>(from.ends[t]));
    feed(stack, byte, to, exited);
  }
  if (to.thread_count() > 1) {
    // Drop duplicate threads (anyOf branches that became the same).
    State unique;
    for (size_t t = 0; t < to.thread_count(); ++t) {
      const Frame* first = to.frames.data() + to.begin_of(t);
      const size_t count = to.ends[t] - to.begin_of(t);
      bool seen = false;
      for (size_t u = 0; u < unique.thread_count() && !seen; ++u) {
        const size_t ucount = unique.ends[u] - unique.begin_of(u);
        seen = ucount == count && std::equal(first, first + count, unique.frames.data() + unique.begin_of(u));
      }
      if (!seen) unique.add_thread(first, count);
    }
    to = std::move(unique);
  }
  return to.thread_count() > 0;
}

bool ByteStepper::number_in_range(const Frame& f) const {
  const Node& n = grammar_->node(f.node);
  if (!n.bounded) return true;
  const int64_t value = f.aux ? -f.c : f.c;
  return value >= n.minimum && value <= n.maximum;
}

// Whether some integer that starts with the digits read so far lies in range.
bool ByteStepper::number_feasible(const Frame& f) const {
  const Node& n = grammar_->node(f.node);
  if (!n.bounded) return true;
  if (f.b >= 19) return false;
  const Wide min = n.minimum, max = n.maximum;
  auto overlaps = [&](Wide lo, Wide hi) {
    if (f.aux) {
      const Wide l = -hi, h = -lo;
      return h >= min && l <= max;
    }
    return hi >= min && lo <= max;
  };
  if (f.phase == kNumZero) return overlaps(0, 0);
  Wide scale = 1;
  for (int d = 0; d + f.b <= 19; ++d, scale *= 10) {
    if (f.b == 0) {
      if (d == 0) continue;
      const Wide lo = d == 1 ? 0 : scale / 10;
      if (overlaps(lo, scale - 1)) return true;
    } else {
      const Wide lo = static_cast<Wide>(f.c) * scale;
      if (overlaps(lo, lo + scale - 1)) return true;
    }
  }
  return false;
}

bool ByteStepper::frame_can_end(const Frame& f) const {
  if (f.kind == FrameKind::number) return number_phase_complete(f.phase) && number_in_range(f);
  if (f.kind == FrameKind::literal) return grammar_->tries().value(f.a) >= 0;
  return false;
}

bool ByteStepper::complete(const State& state) const {
  for (size_t t = 0; t < state.thread_count(); ++t) {
    const size_t count = state.ends[t] - state.begin_of(t);
    if (count == 0) return true;
    if (count == 1 && frame_can_end(state.frames[state.begin_of(t)])) return true;
  }
  return false;
}

void ByteStepper::value_done(std::vector<Frame>& stack) const {
  if (stack.empty()) return;
  Frame& parent = stack.back();
  switch (parent.kind) {
    case FrameKind::object:
      parent.phase = kObjAfter;
      break;
    case FrameKind::array:
      ++parent.a;
      parent.phase = kArrAfter;
      break;
    case FrameKind::exit:
      parent.phase = 1;
      break;
    default:
      break;
  }
}

bool ByteStepper::close_top(std::vector<Frame>& stack) const {
  const Frame top = stack.back();
  if (top.kind != FrameKind::string && top.kind != FrameKind::number) return false;
  stack.pop_back();
  if (top.kind == FrameKind::string && (top.flags & kFreeKey) && !stack.empty() &&
      stack.back().kind == FrameKind::object) {
    stack.back().b = grammar_->node(stack.back().node).additional;
    stack.back().phase = kObjColon;
    return true;
  }
  value_done(stack);
  return true;
}

uint32_t ByteStepper::containers(const std::vector<Frame>& stack) {
  uint32_t depth = 0;
  for (const Frame& f : stack) depth += (f.kind == FrameKind::object || f.kind == FrameKind::array) ? 1 : 0;
  return depth;
}

bool ByteStepper::fits(int32_t node, uint32_t depth) const {
  return node >= 0 && static_cast<uint64_t>(depth) + grammar_->nesting(node) <= kMaxDepth;
}

// Next keys: declared properties in order, skipping only optional ones; an
// extra member once nothing required is pending. Only values that fit under
// the depth limit are offered.
ByteStepper::KeyChoice ByteStepper::key_choice(const Frame& object, uint32_t depth) const {
  const Node& n = grammar_->node(object.node);
  const auto count = static_cast<int32_t>(n.properties.size());
  KeyChoice choice;
  choice.first = object.a;
  int32_t last = object.a;
  while (last < count && !n.properties[static_cast<size_t>(last)].required) ++last;
  const bool required_pending = last < count;
  choice.last = std::min(last, count - 1);
  choice.extra = !required_pending && fits(n.additional, depth);
  return choice;
}

bool ByteStepper::start_key(std::vector<Frame>& stack, State& out) const {
  const Frame& object = stack.back();
  const Node& n = grammar_->node(object.node);
  const uint32_t depth = containers(stack);
  const KeyChoice choice = key_choice(object, depth);
  const LiteralTries& tries = grammar_->tries();
  const int32_t after_quote = tries.child(n.keys, '"');
  const bool declared = choice.first <= choice.last && after_quote >= 0 &&
                        tries.has_value_in(after_quote, choice.first, choice.last, [&](int32_t p) {
                          return fits(n.properties[static_cast<size_t>(p)].node, depth);
                        });
  if (choice.extra) {
    Frame key;
    key.kind = FrameKind::string;
    key.phase = kStrNormal;
    key.flags = kFreeKey;
    key.node = Grammar::kAnyString;
    key.b = after_quote;
    if (declared) {
      std::vector<Frame> copy = stack;
      copy.push_back(key);
      out.add_thread(copy.data(), copy.size());
    } else {
      stack.push_back(key);
    }
  }
  if (declared) {
    Frame key;
    key.kind = FrameKind::key;
    key.node = object.node;
    key.a = after_quote;
    key.b = choice.first;
    key.c = choice.last;
    stack.push_back(key);
  }
  return declared || choice.extra;
}

void ByteStepper::feed(std::vector<Frame>& stack, uint8_t b, State& out, bool* exited) const {
  const Grammar& g = *grammar_;
  const LiteralTries& tries = g.tries();
  for (;;) {
    if (stack.empty()) return;  // the value is complete: nothing may follow
    Frame& f = stack.back();
    switch (f.kind) {
      case FrameKind::exit:
        if (exited) *exited = true;
        out.add_thread(stack.data(), stack.size());
        return;

      case FrameKind::value: {
        const std::vector<int32_t>& starts = g.starts(f.node);
        stack.pop_back();
        const uint32_t depth = containers(stack);
        int32_t only = -1;
        size_t matching = 0;
        for (int32_t s : starts) {
          if (!can_start(g.node(s), tries, b) || !fits(s, depth)) continue;
          ++matching;
          only = s;
        }
        auto start_frame = [&](int32_t s) {
          const Node& n = g.node(s);
          Frame frame;
          frame.node = s;
          switch (n.kind) {
            case NodeKind::object:
              frame.kind = FrameKind::object;
              break;
            case NodeKind::array:
              frame.kind = FrameKind::array;
              break;
            case NodeKind::string:
              frame.kind = FrameKind::string;
              break;
            case NodeKind::number:
              frame.kind = FrameKind::number;
              break;
            default:
              frame.kind = FrameKind::literal;
              frame.a = n.trie;
              break;
          }
          return frame;
        };
        if (matching == 0) return;
        if (matching == 1) {
          stack.push_back(start_frame(only));
          continue;  // the new frame reads `b`
        }
        for (int32_t s : starts) {
          if (!can_start(g.node(s), tries, b) || !fits(s, depth)) continue;
          std::vector<Frame> copy = stack;
          copy.push_back(start_frame(s));
          feed(copy, b, out, exited);
        }
        return;
      }

      case FrameKind::object: {
        const Node& n = g.node(f.node);
        auto can_close = [&] {
          for (size_t i = static_cast<size_t>(f.a); i < n.properties.size(); ++i)
            if (n.properties[i].required) return false;
          return true;
        };
        switch (f.phase) {
          case kObjBegin:
            if (b != '{') return;
            f.phase = kObjOpen;
            break;
          case kObjOpen:
          case kObjNeedKey:
            if (b == '}' && f.phase == kObjOpen) {
              if (!can_close()) return;
              stack.pop_back();
              value_done(stack);
              break;
            }
            if (b != '"' || !start_key(stack, out)) return;
            break;
          case kObjColon: {
            if (b != ':') return;
            f.phase = kObjValue;
            Frame value;
            value.kind = FrameKind::value;
            value.node = f.b;
            stack.push_back(value);
            break;
          }
          case kObjAfter:
            if (b == ',') {
              // Only when a member can follow: a declared one not yet passed, or an extra one.
              const uint32_t depth = containers(stack);
              const KeyChoice choice = key_choice(f, depth);
              bool any = choice.extra;
              for (int32_t p = choice.first; p <= choice.last && !any; ++p)
                any = fits(n.properties[static_cast<size_t>(p)].node, depth);
              if (!any) return;
              f.phase = kObjNeedKey;
              break;
            }
            if (b != '}' || !can_close()) return;
            stack.pop_back();
            value_done(stack);
            break;
          default:
            return;
        }
        out.add_thread(stack.data(), stack.size());
        return;
      }

      case FrameKind::array: {
        const Node& n = g.node(f.node);
        const uint32_t depth = containers(stack);
        auto item_node = [&](int32_t index) {
          if (static_cast<uint32_t>(index) >= n.max_items) return -1;
          const int32_t item =
              static_cast<size_t>(index) < n.prefix_items.size() ? n.prefix_items[static_cast<size_t>(index)] : n.items;
          return fits(item, depth) ? item : -1;
        };
        if (f.phase == kArrBegin) {
          if (b != '[') return;
          f.phase = kArrOpen;
        } else if (f.phase == kArrAfter && b == ',') {
          if (item_node(f.a) < 0) return;
          f.phase = kArrNeedItem;
        } else if ((f.phase == kArrAfter || f.phase == kArrOpen) && b == ']') {
          if (static_cast<uint32_t>(f.a) < n.min_items) return;
          stack.pop_back();
          value_done(stack);
        } else if (f.phase == kArrOpen || f.phase == kArrNeedItem) {
          const int32_t item = item_node(f.a);
          if (item < 0) return;
          f.phase = kArrValue;
          Frame value;
          value.kind = FrameKind::value;
          value.node = item;
          stack.push_back(value);
          continue;  // the item reads `b`
        } else {
          return;
        }
        out.add_thread(stack.data(), stack.size());
        return;
      }

      case FrameKind::key: {
        const int32_t next = tries.child(f.a, b);
        if (next < 0 || !tries.has_value_in(next, f.b, static_cast<int32_t>(f.c))) return;
        const uint32_t depth = containers(stack);
        if (depth + g.property_nesting(f.node) > kMaxDepth) {
          // Near the depth limit: only properties whose values still fit.
          const Node& object = g.node(f.node);
          if (!tries.has_value_in(next, f.b, static_cast<int32_t>(f.c), [&](int32_t p) {
                return fits(object.properties[static_cast<size_t>(p)].node, depth);
              }))
            return;
        }
        const int32_t property = tries.value(next);
        if (property < 0) {
          f.a = next;
        } else {
          const int32_t object_node = f.node;
          stack.pop_back();
          Frame& object = stack.back();
          object.a = property + 1;
          object.b = g.node(object_node).properties[static_cast<size_t>(property)].node;
          object.phase = kObjColon;
        }
        out.add_thread(stack.data(), stack.size());
        return;
      }

      case FrameKind::literal: {
        const int32_t next = tries.child(f.a, b);
        if (next >= 0) {
          f.a = next;
          if (tries.value(next) >= 0 && !tries.has_children(next)) {
            stack.pop_back();
            value_done(stack);
          }
          out.add_thread(stack.data(), stack.size());
          return;
        }
        if (tries.value(f.a) < 0) return;
        stack.pop_back();  // a number literal ended; `b` belongs to the parent
        value_done(stack);
        continue;
      }

      case FrameKind::number: {
        const Node& n = g.node(f.node);
        const int next = number_next(f.phase, b, n.integer);
        if (next < 0) {
          if (!number_phase_complete(f.phase) || !number_in_range(f)) return;
          stack.pop_back();
          value_done(stack);
          continue;  // `b` belongs to the parent
        }
        if (b == '-' && f.phase == kNumStart) f.aux = 1;
        const bool int_digit = is_digit(b) && (next == kNumInt || next == kNumZero);
        f.phase = static_cast<uint8_t>(next);
        if (int_digit) {
          // At most 18 integer digits, so that every integer fits int64 for any reader.
          if (++f.b > kMaxIntegerDigits) return;
          if (n.bounded) f.c = f.c * 10 + (b - '0');
        }
        if (next == kNumExp && !n.bounded && ++f.c > kMaxExponentDigits) return;  // e99 at most: no infinities
        if (n.bounded && !number_feasible(f)) return;
        out.add_thread(stack.data(), stack.size());
        return;
      }

      case FrameKind::string: {
        const Node& n = g.node(f.node);
        const bool lifted = (f.flags & kLifted) != 0;
        const bool free_key = (f.flags & kFreeKey) != 0;
        const DfaPool& dfas = g.dfas();
        auto count_char = [&] {
          ++f.a;
          return lifted || static_cast<uint32_t>(f.a) <= n.max_length;
        };
        switch (f.phase) {
          case kStrBegin:
            if (b != '"') return;
            f.phase = kStrNormal;
            if (n.dfa >= 0) f.b = n.dfa;
            break;
          case kStrNormal: {
            if (b == '"') {
              if (!lifted && static_cast<uint32_t>(f.a) < n.min_length) return;
              if (n.dfa >= 0 && !dfas.accepting(f.b)) return;
              if (free_key && f.b >= 0) {
                const int32_t end = tries.child(f.b, '"');
                if (end >= 0 && tries.value(end) >= 0) return;  // a declared name: not an extra member
              }
              const int32_t count = f.a;
              if (!close_top(stack)) return;
              if (!stack.empty() && stack.back().kind == FrameKind::exit) stack.back().a = count;
              break;
            }
            if (b < 0x20) return;
            if (n.dfa >= 0) {
              const int32_t next = dfas.next(f.b, b);
              if (next < 0) return;
              f.b = next;
              if ((b & 0xc0) != 0x80 && !count_char()) return;
              if (!lifted) {
                const uint32_t lo = dfas.min_to_accept(next), hi = dfas.max_to_accept(next);
                if (n.max_length != UINT32_MAX && static_cast<uint64_t>(f.a) + lo > n.max_length) return;
                if (hi != DfaPool::kUnbounded && static_cast<uint64_t>(f.a) + hi < n.min_length) return;
              }
              break;
            }
            if (b == '\\') {
              if (free_key) return;  // extra keys are compared byte by byte with the declared names
              if (!count_char()) return;
              f.phase = kStrEscape;
              break;
            }
            if (free_key && f.b >= 0) f.b = tries.child(f.b, b);
            if (b < 0x80) {
              if (!count_char()) return;
              break;
            }
            // A lead byte: how many continuation bytes follow, and the first one's range.
            uint8_t bounds = 0;
            if (b >= 0xc2 && b <= 0xdf) {
              f.aux = 1;
            } else if (b >= 0xe0 && b <= 0xef) {
              f.aux = 2;
              bounds = b == 0xe0 ? 1 : b == 0xed ? 2 : 0;
            } else if (b >= 0xf0 && b <= 0xf4) {
              f.aux = 3;
              bounds = b == 0xf0 ? 3 : b == 0xf4 ? 4 : 0;
            } else {
              return;
            }
            f.phase = kStrUtf8;
            f.flags = static_cast<uint8_t>((f.flags & 0x0f) | (bounds << 4));
            if (!count_char()) return;
            break;
          }
          case kStrEscape:
            if (b == 'u') {
              f.phase = kStrHex;
              f.aux = 4;
              break;
            }
            if (b != '"' && b != '\\' && b != '/' && b != 'b' && b != 'f' && b != 'n' && b != 'r' && b != 't') return;
            f.phase = kStrNormal;
            break;
          case kStrHex:
            if (!is_hex(b)) return;
            // No surrogate escapes: a lone one is not text, and a pair would count as two characters.
            if (f.aux == 4 && (b == 'd' || b == 'D'))
              f.flags = static_cast<uint8_t>((f.flags & 0x0f) | (5 << 4));
            else if (f.aux == 3 && (f.flags >> 4) == 5) {
              if (b > '7') return;
              f.flags = static_cast<uint8_t>(f.flags & 0x0f);
            }
            if (--f.aux == 0) f.phase = kStrNormal;
            break;
          case kStrUtf8:
            if (!continuation_ok(static_cast<uint8_t>(f.flags >> 4), b)) return;
            f.flags = static_cast<uint8_t>(f.flags & 0x0f);
            if (free_key && f.b >= 0) f.b = tries.child(f.b, b);
            if (--f.aux == 0) f.phase = kStrNormal;
            break;
          default:
            return;
        }
        out.add_thread(stack.data(), stack.size());
        return;
      }
    }
  }
}

// ---- Matcher ----

Matcher::Matcher(std::shared_ptr<const Grammar> grammar) : stepper_(std::move(grammar)) {
  history_.push_back(stepper_.initial());
}

bool Matcher::accept(std::string_view bytes) {
  State* from = &history_.back();
  State next;
  for (size_t i = 0; i < bytes.size(); ++i) {
    State& to = scratch_[i & 1];
    if (!stepper_.advance(*from, static_cast<uint8_t>(bytes[i]), to)) return false;
    from = &to;
  }
  next = *from;
  history_.push_back(std::move(next));
  return true;
}

bool Matcher::allows_byte(uint8_t byte) const {
  return stepper_.advance(history_.back(), byte, scratch_[0]);
}

void Matcher::rollback_to(size_t checkpoint) {
  if (checkpoint >= 1 && checkpoint < history_.size()) history_.resize(checkpoint);
}

}  // namespace ossrt::constrain
