// Small string helpers shared by text-building code.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace ossrt {

inline std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += separator;
    out += parts[i];
  }
  return out;
}

// How control characters are written by append_escaped: JSON (serde_json:
// \b \f and \u00XX) or Rust's Debug for strings (\0 and \u{X}).
enum class EscapeStyle { json, rust_debug };

// Appends `text` with `"`, `\`, newline, carriage return, tab and the other
// control characters escaped in `style`; everything else verbatim.
inline void append_escaped(std::string& out, std::string_view text, EscapeStyle style) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default: {
        const bool control = byte < 0x20 || (style == EscapeStyle::rust_debug && byte == 0x7f);
        if (!control) {
          out += c;
        } else if (style == EscapeStyle::json) {
          char buf[8];
          std::snprintf(buf, sizeof buf, byte == 0x08 ? "\\b" : byte == 0x0c ? "\\f" : "\\u%04x", byte);
          out += buf;
        } else {
          char buf[12];
          std::snprintf(buf, sizeof buf, byte == 0 ? "\\0" : "\\u{%x}", byte);
          out += buf;
        }
      }
    }
  }
}

}  // namespace ossrt
