// UTF-8 decoding for the tokenizer: code points of valid text, and the
// replacement of invalid input (each maximal invalid subpart -> U+FFFD, the
// Unicode / WHATWG rule).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ossrt::utf8 {

// Decodes the code point starting at text[i] of *valid* UTF-8; sets width.
inline char32_t decode(std::string_view text, size_t i, size_t& width) noexcept {
  const auto b0 = static_cast<unsigned char>(text[i]);
  if (b0 < 0x80) {
    width = 1;
    return b0;
  }
  auto cont = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(text[i + k]) & 0x3f); };
  if (b0 < 0xe0) {
    width = 2;
    return (static_cast<char32_t>(b0 & 0x1f) << 6) | cont(1);
  }
  if (b0 < 0xf0) {
    width = 3;
    return (static_cast<char32_t>(b0 & 0x0f) << 12) | (cont(1) << 6) | cont(2);
  }
  width = 4;
  return (static_cast<char32_t>(b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
}

// Length of the valid UTF-8 sequence at bytes[i], or 0 with `invalid_length`
// set to the length of the maximal invalid subpart (>= 1) to replace.
size_t valid_sequence_length(std::string_view bytes, size_t i, size_t& invalid_length) noexcept;

// True if `bytes` is entirely valid UTF-8.
bool is_valid(std::string_view bytes) noexcept;

// Appends `bytes` to `out` with each maximal invalid subpart replaced by
// U+FFFD. With hold_truncated_tail, a final sequence that is a valid start cut
// short by the end (more bytes could complete it) is left out. Returns the
// number of bytes consumed.
size_t append_repaired(std::string_view bytes, std::string& out, bool hold_truncated_tail);

// `bytes` with each maximal invalid subpart replaced by U+FFFD.
std::string replace_invalid(std::string_view bytes);

}  // namespace ossrt::utf8
