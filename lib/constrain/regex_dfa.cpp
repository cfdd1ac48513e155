#include "constrain/regex_dfa.h"

#include <algorithm>
#include <bitset>
#include <map>
#include <memory>

#include "util/errors.h"

namespace ossrt::constrain {
namespace {

using ByteSet = std::bitset<256>;

constexpr size_t kMaxNfaStates = 20000;
constexpr size_t kMaxDfaStates = 4000;
constexpr int kMaxRepeat = 1000;

// Characters a constrained string may hold without a JSON escape.
ByteSet printable() {
  ByteSet set;
  for (int c = 0x20; c < 0x7f; ++c)
    if (c != '"' && c != '\\') set.set(static_cast<size_t>(c));
  return set;
}

ByteSet range(int lo, int hi) {
  ByteSet set;
  for (int c = lo; c <= hi; ++c) set.set(static_cast<size_t>(c));
  return set;
}

struct Ast {
  enum class Kind { set, concat, alt, repeat };
  Kind kind = Kind::concat;  // an empty concat matches ""
  ByteSet set;
  std::vector<Ast> children;
  int min = 0, max = 0;  // repeat; max -1: unbounded
};

class Parser {
 public:
  explicit Parser(std::string_view pattern) : p_(pattern) {}

  Result<Ast> parse_all(bool& anchored_start, bool& anchored_end) {
    if (pos_ < p_.size() && p_[pos_] == '^') {
      anchored_start = true;
      ++pos_;
    }
    std::string_view body = p_;
    if (!body.empty() && body.back() == '$' && (body.size() < 2 || body[body.size() - 2] != '\\')) {
      anchored_end = true;
      p_ = body.substr(0, body.size() - 1);
    }
    Ast ast;
    if (!parse_alt(ast)) return error_;
    if (pos_ != p_.size()) {
      fail("unbalanced ')'");
      return error_;
    }
    return ast;
  }

 private:
  bool parse_alt(Ast& out) {
    Ast first;
    if (!parse_concat(first)) return false;
    if (pos_ >= p_.size() || p_[pos_] != '|') {
      out = std::move(first);
      return true;
    }
    out = Ast{};
    out.kind = Ast::Kind::alt;
    out.children.push_back(std::move(first));
    while (pos_ < p_.size() && p_[pos_] == '|') {
      ++pos_;
      Ast next;
      if (!parse_concat(next)) return false;
      out.children.push_back(std::move(next));
    }
    return true;
  }

  bool parse_concat(Ast& out) {
    out = Ast{};
    while (pos_ < p_.size() && p_[pos_] != '|' && p_[pos_] != ')') {
      Ast atom;
      if (!parse_atom(atom)) return false;
      if (!parse_quantifiers(atom)) return false;
      out.children.push_back(std::move(atom));
    }
    return true;
  }

  bool parse_quantifiers(Ast& atom) {
    while (pos_ < p_.size()) {
      const char c = p_[pos_];
      int min = 0, max = 0;
      if (c == '?') {
        max = 1;
        ++pos_;
      } else if (c == '*') {
        max = -1;
        ++pos_;
      } else if (c == '+') {
        min = 1;
        max = -1;
        ++pos_;
      } else if (c == '{') {
        const size_t start = pos_++;
        if (!parse_int(min)) return fail_at(start, "bad {m,n} repetition");
        max = min;
        if (pos_ < p_.size() && p_[pos_] == ',') {
          ++pos_;
          max = -1;
          if (pos_ < p_.size() && p_[pos_] != '}' && !parse_int(max)) return fail_at(start, "bad {m,n} repetition");
        }
        if (pos_ >= p_.size() || p_[pos_] != '}') return fail_at(start, "bad {m,n} repetition");
        ++pos_;
        if (max != -1 && max < min) return fail_at(start, "{m,n} with n < m");
        if (min > kMaxRepeat || max > kMaxRepeat) return fail_at(start, "repetition count above 1000");
      } else {
        return true;
      }
      if (pos_ < p_.size() && p_[pos_] == '?') ++pos_;  // lazy: the same language
      Ast repeat;
      repeat.kind = Ast::Kind::repeat;
      repeat.min = min;
      repeat.max = max;
      repeat.children.push_back(std::move(atom));
      atom = std::move(repeat);
    }
    return true;
  }

  bool parse_int(int& out) {
    const size_t start = pos_;
    out = 0;
    while (pos_ < p_.size() && p_[pos_] >= '0' && p_[pos_] <= '9' && out <= kMaxRepeat * 10)
      out = out * 10 + (p_[pos_++] - '0');
    return pos_ > start;
  }

  bool parse_atom(Ast& out) {
    const char c = p_[pos_];
    out = Ast{};
    out.kind = Ast::Kind::set;
    switch (c) {
      case '(': {
        const size_t open = pos_++;
        if (p_.substr(pos_, 2) == "?:") {
          pos_ += 2;
        } else if (pos_ < p_.size() && p_[pos_] == '?') {
          return fail_at(open, "lookaround and named groups are not supported");
        }
        if (!parse_alt(out)) return false;
        if (pos_ >= p_.size() || p_[pos_] != ')') return fail_at(open, "unclosed '('");
        ++pos_;
        return true;
      }
      case '[':
        return parse_class(out.set);
      case '.':
        ++pos_;
        out.set = printable();
        return true;
      case '\\':
        return parse_escape(out.set, false);
      case '^':
      case '$':
        return fail("anchors are supported only at the start (^) and end ($) of the pattern");
      case '*':
      case '+':
      case '?':
      case '{':
        return fail("quantifier without an operand");
      default:
        break;
    }
    // A literal character, possibly several UTF-8 bytes.
    const auto lead = static_cast<unsigned char>(c);
    size_t length = lead < 0x80 ? 1 : lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
    if (pos_ + length > p_.size()) return fail("truncated UTF-8 character");
    if (length == 1) {
      if (lead < 0x20 || c == '"' || c == '\\') return fail("a character that JSON must escape");
      out.set.set(lead);
      ++pos_;
      return true;
    }
    out.kind = Ast::Kind::concat;
    for (size_t i = 0; i < length; ++i) {
      Ast byte;
      byte.kind = Ast::Kind::set;
      byte.set.set(static_cast<unsigned char>(p_[pos_ + i]));
      out.children.push_back(std::move(byte));
    }
    pos_ += length;
    return true;
  }

  // After '\\': a class escape or an escaped character.
  bool parse_escape(ByteSet& set, bool in_class) {
    if (pos_ + 1 >= p_.size()) return fail("trailing '\\'");
    const char e = p_[pos_ + 1];
    pos_ += 2;
    const ByteSet digits = range('0', '9');
    ByteSet word = digits | range('a', 'z') | range('A', 'Z');
    word.set('_');
    ByteSet space;
    space.set(' ');
    switch (e) {
      case 'd':
        set |= digits;
        return true;
      case 'D':
        set |= printable() & ~digits;
        return true;
      case 'w':
        set |= word;
        return true;
      case 'W':
        set |= printable() & ~word;
        return true;
      case 's':
        set |= space;
        return true;
      case 'S':
        set |= printable() & ~space;
        return true;
      default:
        break;
    }
    const auto byte = static_cast<unsigned char>(e);
    const bool punctuation =
        byte >= 0x20 && byte < 0x7f && !((e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z'));
    if (!punctuation) return fail_at(pos_ - 2, in_class ? "unsupported escape in a class" : "unsupported escape");
    if (e == '"' || e == '\\') return true;  // never generated: the string would need a JSON escape
    set.set(byte);
    return true;
  }

  bool parse_class(ByteSet& out) {
    const size_t open = pos_++;
    bool negate = false;
    if (pos_ < p_.size() && p_[pos_] == '^') {
      negate = true;
      ++pos_;
    }
    ByteSet set;
    bool first = true;
    while (pos_ < p_.size() && (p_[pos_] != ']' || first)) {
      first = false;
      int lo = 0;
      if (p_[pos_] == '\\') {
        ByteSet escaped;
        if (!parse_escape(escaped, true)) return false;
        if (escaped.count() != 1 || pos_ >= p_.size() || p_[pos_] != '-' || pos_ + 1 >= p_.size() ||
            p_[pos_ + 1] == ']') {
          set |= escaped;
          continue;
        }
        lo = static_cast<int>(escaped._Find_first());
      } else {
        lo = static_cast<unsigned char>(p_[pos_++]);
        if (lo >= 0x80) return fail_at(pos_ - 1, "non-ASCII characters in a class are not supported");
      }
      if (pos_ + 1 < p_.size() && p_[pos_] == '-' && p_[pos_ + 1] != ']') {
        ++pos_;
        int hi = 0;
        if (p_[pos_] == '\\') {
          ByteSet escaped;
          if (!parse_escape(escaped, true)) return false;
          if (escaped.count() != 1) return fail_at(pos_, "a class escape cannot end a range");
          hi = static_cast<int>(escaped._Find_first());
        } else {
          hi = static_cast<unsigned char>(p_[pos_++]);
        }
        if (hi < lo) return fail_at(pos_ - 1, "range out of order");
        if (hi >= 0x80) return fail_at(pos_ - 1, "non-ASCII characters in a class are not supported");
        set |= range(lo, hi);
      } else {
        set.set(static_cast<size_t>(lo));
      }
    }
    if (pos_ >= p_.size()) return fail_at(open, "unclosed '['");
    ++pos_;
    out = negate ? printable() & ~set : set & printable();
    return true;
  }

  bool fail(const char* what) { return fail_at(pos_, what); }
  bool fail_at(size_t at, const char* what) {
    error_ = error(StatusCode::invalid_argument, "pattern at character %zu: %s", at, what);
    return false;
  }

  std::string_view p_;
  size_t pos_ = 0;
  Status error_;
};

// Thompson NFA over bytes.
struct Nfa {
  struct State {
    ByteSet set;
    int32_t out = -1;  // target of `set`
    std::vector<int32_t> eps;
  };
  std::vector<State> states;

  int32_t add() {
    states.emplace_back();
    return static_cast<int32_t>(states.size() - 1);
  }

  // Builds `ast` between fresh states; returns {start, end}, or {-1,-1} when too large.
  std::pair<int32_t, int32_t> build(const Ast& ast) {
    if (states.size() > kMaxNfaStates) return {-1, -1};
    const int32_t start = add();
    int32_t end = start;
    switch (ast.kind) {
      case Ast::Kind::set:
        end = add();
        states[static_cast<size_t>(start)].set = ast.set;
        states[static_cast<size_t>(start)].out = end;
        break;
      case Ast::Kind::concat:
        for (const Ast& child : ast.children) {
          auto [s, e] = build(child);
          if (s < 0) return {-1, -1};
          states[static_cast<size_t>(end)].eps.push_back(s);
          end = e;
        }
        break;
      case Ast::Kind::alt:
        end = add();
        for (const Ast& child : ast.children) {
          auto [s, e] = build(child);
          if (s < 0) return {-1, -1};
          states[static_cast<size_t>(start)].eps.push_back(s);
          states[static_cast<size_t>(e)].eps.push_back(end);
        }
        break;
      case Ast::Kind::repeat: {
        for (int i = 0; i < ast.min; ++i) {
          auto [s, e] = build(ast.children[0]);
          if (s < 0) return {-1, -1};
          states[static_cast<size_t>(end)].eps.push_back(s);
          end = e;
        }
        if (ast.max < 0) {
          auto [s, e] = build(ast.children[0]);
          if (s < 0) return {-1, -1};
          const int32_t after = add();
          states[static_cast<size_t>(end)].eps.push_back(s);
          states[static_cast<size_t>(end)].eps.push_back(after);
          states[static_cast<size_t>(e)].eps.push_back(s);
          states[static_cast<size_t>(e)].eps.push_back(after);
          end = after;
        } else {
          const int32_t after = add();
          for (int i = ast.min; i < ast.max; ++i) {
            auto [s, e] = build(ast.children[0]);
            if (s < 0) return {-1, -1};
            states[static_cast<size_t>(end)].eps.push_back(s);
            states[static_cast<size_t>(end)].eps.push_back(after);
            end = e;
          }
          states[static_cast<size_t>(end)].eps.push_back(after);
          end = after;
        }
        break;
      }
    }
    return {start, end};
  }

  void close(std::vector<int32_t>& set) const {
    std::vector<int32_t> work = set;
    std::vector<uint8_t> seen(states.size(), 0);
    for (int32_t s : set) seen[static_cast<size_t>(s)] = 1;
    while (!work.empty()) {
      const int32_t s = work.back();
      work.pop_back();
      for (int32_t t : states[static_cast<size_t>(s)].eps)
        if (!seen[static_cast<size_t>(t)]) {
          seen[static_cast<size_t>(t)] = 1;
          set.push_back(t);
          work.push_back(t);
        }
    }
    std::sort(set.begin(), set.end());
  }
};

}  // namespace

Result<int32_t> DfaPool::add(std::string_view pattern) {
  bool anchored_start = false, anchored_end = false;
  Parser parser(pattern);
  auto ast = parser.parse_all(anchored_start, anchored_end);
  if (!ast.ok()) return ast.status();
  Ast any_run;
  any_run.kind = Ast::Kind::repeat;
  any_run.max = -1;
  any_run.children.push_back(Ast{Ast::Kind::set, printable(), {}, 0, 0});
  Ast whole;
  if (!anchored_start) whole.children.push_back(any_run);
  whole.children.push_back(std::move(ast.value()));
  if (!anchored_end) whole.children.push_back(any_run);

  Nfa nfa;
  auto [nfa_start, nfa_end] = nfa.build(whole);
  if (nfa_start < 0) return error(StatusCode::invalid_argument, "pattern is too large (repetitions expand too far)");

  // Subset construction.
  std::map<std::vector<int32_t>, int32_t> ids;
  std::vector<std::vector<int32_t>> sets;
  std::vector<int32_t> table;  // local state * 256 + byte
  std::vector<int32_t> first{nfa_start};
  nfa.close(first);
  ids.emplace(first, 0);
  sets.push_back(first);
  for (size_t d = 0; d < sets.size(); ++d) {
    table.resize((d + 1) * 256, -1);
    for (int b = 0; b < 256; ++b) {
      std::vector<int32_t> next;
      for (int32_t s : sets[d]) {
        const Nfa::State& st = nfa.states[static_cast<size_t>(s)];
        if (st.out >= 0 && st.set.test(static_cast<size_t>(b))) next.push_back(st.out);
      }
      if (next.empty()) continue;
      nfa.close(next);
      next.erase(std::unique(next.begin(), next.end()), next.end());
      auto [it, inserted] = ids.emplace(next, static_cast<int32_t>(sets.size()));
      if (inserted) {
        if (sets.size() >= kMaxDfaStates)
          return error(StatusCode::invalid_argument, "pattern needs more than %zu automaton states", kMaxDfaStates);
        sets.push_back(next);
      }
      table[d * 256 + static_cast<size_t>(b)] = it->second;
    }
  }
  const size_t n = sets.size();
  std::vector<uint8_t> accept(n, 0);
  for (size_t d = 0; d < n; ++d) accept[d] = std::binary_search(sets[d].begin(), sets[d].end(), nfa_end) ? 1 : 0;

  // Shortest distance to acceptance (reverse BFS) and whether it is finite.
  std::vector<std::vector<int32_t>> reverse(n);
  for (size_t d = 0; d < n; ++d)
    for (int b = 0; b < 256; ++b) {
      const int32_t t = table[d * 256 + static_cast<size_t>(b)];
      if (t >= 0) reverse[static_cast<size_t>(t)].push_back(static_cast<int32_t>(d));
    }
  std::vector<uint32_t> min_dist(n, UINT32_MAX);
  std::vector<int32_t> queue;
  for (size_t d = 0; d < n; ++d)
    if (accept[d]) {
      min_dist[d] = 0;
      queue.push_back(static_cast<int32_t>(d));
    }
  for (size_t q = 0; q < queue.size(); ++q)
    for (int32_t r : reverse[static_cast<size_t>(queue[q])])
      if (min_dist[static_cast<size_t>(r)] == UINT32_MAX) {
        min_dist[static_cast<size_t>(r)] = min_dist[static_cast<size_t>(queue[q])] + 1;
        queue.push_back(r);
      }
  if (min_dist[0] == UINT32_MAX)
    return error(StatusCode::invalid_argument, "pattern matches no string that can be generated");
  // Longest path to acceptance among live states: unbounded when a cycle is reachable.
  std::vector<uint32_t> max_dist(n, 0);
  std::vector<uint8_t> color(n, 0);  // 0 new, 1 on stack, 2 done
  const uint32_t kInf = UINT32_MAX;
  auto longest = [&](auto&& self, size_t d) -> uint32_t {
    if (color[d] == 2) return max_dist[d];
    if (color[d] == 1) return kInf;
    color[d] = 1;
    uint32_t best = accept[d] ? 0 : 0;
    for (int b = 0; b < 256; ++b) {
      const int32_t t = table[d * 256 + static_cast<size_t>(b)];
      if (t < 0 || min_dist[static_cast<size_t>(t)] == UINT32_MAX) continue;
      const uint32_t sub = self(self, static_cast<size_t>(t));
      best = sub == kInf ? kInf : std::max(best, sub == kInf ? kInf : sub + 1);
      if (best == kInf) break;
    }
    color[d] = 2;
    max_dist[d] = best;
    return best;
  };
  for (size_t d = 0; d < n; ++d)
    if (min_dist[d] != UINT32_MAX && color[d] == 0) longest(longest, d);

  const auto base = static_cast<int32_t>(accepting_.size());
  for (size_t d = 0; d < n; ++d) {
    for (int b = 0; b < 256; ++b) {
      const int32_t t = table[d * 256 + static_cast<size_t>(b)];
      const bool live = t >= 0 && min_dist[static_cast<size_t>(t)] != UINT32_MAX;
      next_.push_back(live ? base + t : -1);
    }
    accepting_.push_back(accept[d]);
    const uint32_t lo = min_dist[d], hi = max_dist[d];
    min_to_accept_.push_back(static_cast<uint16_t>(std::min<uint32_t>(lo, kUnbounded)));
    max_to_accept_.push_back(static_cast<uint16_t>(hi >= kUnbounded ? kUnbounded : hi));
  }
  return base;
}

}  // namespace ossrt::constrain
