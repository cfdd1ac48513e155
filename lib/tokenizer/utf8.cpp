#include "tokenizer/utf8.h"

namespace ossrt::utf8 {

size_t valid_sequence_length(std::string_view bytes, size_t i, size_t& invalid_length) noexcept {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(bytes[k]); };
  const unsigned char b0 = byte(i);
  invalid_length = 1;
  if (b0 < 0x80) return 1;
  size_t need;
  unsigned char low = 0x80, high = 0xbf;  // allowed range of the second byte
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    need = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    need = 3;
    if (b0 == 0xe0) low = 0xa0;   // no overlong forms
    if (b0 == 0xed) high = 0x9f;  // no surrogates
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    need = 4;
    if (b0 == 0xf0) low = 0x90;
    if (b0 == 0xf4) high = 0x8f;  // nothing above U+10FFFF
  } else {
    return 0;  // C0, C1, F5..FF, or a stray continuation byte
  }
  for (size_t k = 1; k < need; ++k) {
    if (i + k >= bytes.size()) return 0;
    const unsigned char b = byte(i + k);
    const bool ok = k == 1 ? (b >= low && b <= high) : (b >= 0x80 && b <= 0xbf);
    if (!ok) return 0;
    invalid_length = k + 1;  // bytes 0..k form a valid prefix: one replacement covers them
  }
  return need;
}

bool is_valid(std::string_view bytes) noexcept {
  size_t invalid = 0;
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = valid_sequence_length(bytes, i, invalid);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

size_t append_repaired(std::string_view bytes, std::string& out, bool hold_truncated_tail) {
  size_t i = 0, invalid = 0;
  while (i < bytes.size()) {
    const size_t n = valid_sequence_length(bytes, i, invalid);
    if (n > 0) {
      out.append(bytes.substr(i, n));
      i += n;
      continue;
    }
    // A lead byte whose valid continuation runs into the end may still complete.
    const auto lead = static_cast<unsigned char>(bytes[i]);
    if (hold_truncated_tail && lead >= 0xc2 && lead <= 0xf4 && i + invalid == bytes.size()) break;
    out.append("\xef\xbf\xbd");
    i += invalid;  // the offending byte after a valid prefix starts anew
  }
  return i;
}

std::string replace_invalid(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  append_repaired(bytes, out, false);
  return out;
}

}  // namespace ossrt::utf8
