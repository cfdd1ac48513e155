#include "tokenizer/pretokenizer.h"

#include "tokenizer/unicode_classes.h"
#include "tokenizer/utf8.h"

namespace ossrt {
namespace {

using namespace unicode;

constexpr size_t kNoMatch = static_cast<size_t>(-1);

struct Scanner {
  std::string_view text;

  bool at_end(size_t i) const { return i >= text.size(); }
  char32_t cp(size_t i, size_t& width) const { return utf8::decode(text, i, width); }
  uint8_t cls(size_t i, size_t& width) const { return classes(cp(i, width)); }
  size_t width(size_t i) const {
    size_t w = 0;
    cp(i, w);
    return w;
  }

  // End of the maximal run of characters having any bit of `bits`, from i.
  size_t run(size_t i, uint8_t bits) const {
    size_t w = 0;
    while (!at_end(i) && (cls(i, w) & bits)) i += w;
    return i;
  }

  // (?i:'s|'t|'re|'ve|'m|'ll|'d)? after position i: returns the new end.
  size_t contraction(size_t i) const {
    if (at_end(i) || text[i] != '\'') return i;
    auto letter = [&](size_t k, char lower, size_t& width) {
      if (at_end(k)) return false;
      const char32_t c = cp(k, width);
      // Case-insensitive per Unicode simple folding: only U+017F (long s) joins s/S.
      return c == static_cast<char32_t>(lower) || c == static_cast<char32_t>(lower - 32) ||
             (lower == 's' && c == 0x017f);
    };
    size_t w1 = 0, w2 = 0;
    const size_t a = i + 1;
    if (letter(a, 's', w1) || letter(a, 't', w1) || letter(a, 'm', w1) || letter(a, 'd', w1)) return a + w1;
    if ((letter(a, 'r', w1) || letter(a, 'v', w1)) && letter(a + w1, 'e', w2)) return a + w1 + w2;
    if (letter(a, 'l', w1) && letter(a + w1, 'l', w2)) return a + w1 + w2;
    return i;
  }

  // [U]*[L]+ from i. Greedy star, then backtracking: if the star's run is not
  // followed by an L character, it gives characters back until its last L
  // character can start the plus, which then ends right after it.
  size_t upper_star_lower_plus(size_t i) const {
    size_t last_lower_end = kNoMatch, w = 0;
    while (!at_end(i)) {
      const uint8_t c = cls(i, w);
      if (!(c & kUpperish)) break;
      if (c & kLowerish) last_lower_end = i + w;
      i += w;
    }
    if (!at_end(i) && (cls(i, w) & kLowerish)) return run(i, kLowerish);
    return last_lower_end;
  }

  // [U]+[L]*: both greedy, nothing to give back.
  size_t upper_plus_lower_star(size_t i) const {
    const size_t upper_end = run(i, kUpperish);
    if (upper_end == i) return kNoMatch;
    return run(upper_end, kLowerish);
  }

  // [^\r\n\p{L}\p{N}]? then `body`: first with the optional character, then without.
  template <class Body>
  size_t with_optional_prefix(size_t i, Body body) const {
    size_t w = 0;
    const char32_t c = cp(i, w);
    if (c != '\r' && c != '\n' && !(classes(c) & (kLetter | kNumber))) {
      const size_t end = body(i + w);
      if (end != kNoMatch) return end;
    }
    return body(i);
  }

  bool is_punct(size_t i) const {  // [^\s\p{L}\p{N}]
    size_t w = 0;
    return !at_end(i) && !(cls(i, w) & (kSpace | kLetter | kNumber));
  }

  size_t piece(size_t i) const {
    size_t end = with_optional_prefix(i, [&](size_t k) { return upper_star_lower_plus(k); });
    if (end != kNoMatch) return contraction(end);
    end = with_optional_prefix(i, [&](size_t k) { return upper_plus_lower_star(k); });
    if (end != kNoMatch) return contraction(end);

    size_t w = 0;
    const uint8_t c = cls(i, w);
    if (c & kNumber) {  // \p{N}{1,3}
      size_t k = i;
      for (int n = 0; n < 3 && !at_end(k) && (cls(k, w) & kNumber); ++n) k += w;
      return k;
    }
    // ` ?[^\s\p{L}\p{N}]+[\r\n/]*`: the space only counts if punctuation follows.
    size_t start = (text[i] == ' ' && is_punct(i + 1)) ? i + 1 : i;
    if (is_punct(start)) {
      size_t k = start;
      while (is_punct(k)) k += width(k);
      while (!at_end(k) && (text[k] == '\r' || text[k] == '\n' || text[k] == '/')) ++k;
      return k;
    }
    // Whitespace run [i, run_end), tracking its last \r or \n and its last character.
    size_t run_end = i, last_newline_end = kNoMatch, last_start = i;
    while (!at_end(run_end) && (cls(run_end, w) & kSpace)) {
      if (text[run_end] == '\r' || text[run_end] == '\n') last_newline_end = run_end + 1;
      last_start = run_end;
      run_end += w;
    }
    // `\s*[\r\n]+`: the star gives back until its last \r or \n starts the plus.
    if (last_newline_end != kNoMatch) return last_newline_end;
    // `\s+(?!\S)`: to the end of text, or all but the last space before a non-space.
    if (at_end(run_end)) return run_end;
    if (last_start > i) return last_start;
    // `\s+`: a single whitespace character before a non-space.
    return run_end;
  }
};

}  // namespace

size_t next_piece_length(std::string_view text, size_t pos) noexcept {
  return Scanner{text}.piece(pos) - pos;
}

}  // namespace ossrt
