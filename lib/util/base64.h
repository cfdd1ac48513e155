// Standard base64 (RFC 4648) decoding, as the .tiktoken ranks and the test
// vectors use it. Header-only: the build-time vocabulary tool needs it too.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ossrt {

// Appends the bytes `in` encodes to `out`; stops at the first '='. Returns
// false on a character outside the base64 alphabet.
inline bool base64_decode(std::string_view in, std::string& out) {
  uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else
      return false;
    buffer = (buffer << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  return true;
}

}  // namespace ossrt
