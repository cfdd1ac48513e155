#include "harmony/header_parser.h"

#include <cctype>

#include "tokenizer/utf8.h"
#include "util/errors.h"

namespace ossrt::harmony {
namespace {

constexpr std::string_view kChannelMarker = "<|channel|>";
constexpr std::string_view kConstrainMarker = "<|constrain|>";

// Unicode White_Space, which Rust's char::is_whitespace and str::trim use.
bool is_unicode_whitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

// Rust's split_ascii_whitespace set (no vertical tab).
bool is_ascii_whitespace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

// Byte offset of the first character satisfying `stop`, or text.size().
template <class Stop>
size_t find_char(std::string_view text, Stop stop) {
  for (size_t i = 0, width = 1; i < text.size(); i += width) {
    const char32_t c = utf8::decode(text, i, width);
    if (stop(c)) return i;
  }
  return text.size();
}

std::string trim(std::string_view text) {
  const size_t begin = find_char(text, [](char32_t c) { return !is_unicode_whitespace(c); });
  text.remove_prefix(begin);
  // The end: after the last non-whitespace character.
  size_t end = 0;
  for (size_t i = 0, width = 1; i < text.size(); i += width)
    if (!is_unicode_whitespace(utf8::decode(text, i, width))) end = i + width;
  return std::string(text.substr(0, end));
}

std::vector<std::string> split_ascii_whitespace(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_ascii_whitespace(text[i])) ++i;
    const size_t start = i;
    while (i < text.size() && !is_ascii_whitespace(text[i])) ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

std::string join_words(const std::vector<std::string>& words, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) {
    if (i > begin) out += ' ';
    out += words[i];
  }
  return out;
}

// A recipient harmony can name: "functions.get_weather", "browser.search",
// "python", "container.exec" (ASCII letters, digits and _ - . : /, starting
// with a letter or underscore).
bool is_well_formed_name(std::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  if (!std::isalpha(static_cast<unsigned char>(name[0])) && name[0] != '_') return false;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || !(std::isalnum(u) || c == '_' || c == '-' || c == '.' || c == ':' || c == '/')) return false;
  }
  return true;
}

std::string strip_to(const std::string& word) {
  return word.compare(0, 3, "to=") == 0 ? word.substr(3) : word;
}

// Lenient: "commentary?" or "final." → the known channel; nullopt when the
// value is not a known name followed only by punctuation.
std::optional<std::string> known_channel_prefix(std::string_view value) {
  for (std::string_view known : {"analysis", "commentary", "final"}) {
    if (value.size() <= known.size() || value.substr(0, known.size()) != known) continue;
    bool punctuation_only = true;
    for (char c : value.substr(known.size()))
      punctuation_only =
          punctuation_only && static_cast<unsigned char>(c) < 0x80 && std::ispunct(static_cast<unsigned char>(c));
    if (punctuation_only) return std::string(known);
  }
  return std::nullopt;
}

}  // namespace

Result<HeaderParse> parse_header(std::string header, std::optional<Role> role, bool parse_fields,
                                 std::vector<HeaderAnomaly>* anomalies, Role fallback_role) {
  HeaderParse result;
  if (const size_t marker = header.find(kChannelMarker); marker != std::string::npos) {
    const std::string_view after = std::string_view(header).substr(marker + kChannelMarker.size());
    const size_t value_end = find_char(after, [](char32_t c) { return is_unicode_whitespace(c) || c == '<'; });
    std::string value(after.substr(0, value_end));
    if (value.empty()) {
      if (!anomalies)
        return Status(StatusCode::invalid_argument, "channel marker present but no channel value found in header");
      anomalies->push_back({AnomalyKind::bad_channel, ""});
    } else if (auto known = anomalies ? known_channel_prefix(value) : std::nullopt) {
      anomalies->push_back({AnomalyKind::bad_channel, value});
      result.header.channel = *known;
    } else {
      result.header.channel = value;
    }
    header = header.substr(0, marker) + std::string(after.substr(value_end));
  }
  header = trim(header);
  if (header.find(kConstrainMarker) != std::string::npos) {
    std::string spaced;
    for (size_t i = 0; i < header.size();) {
      if (header.compare(i, kConstrainMarker.size(), kConstrainMarker) == 0) {
        spaced += ' ';
        spaced += kConstrainMarker;
        i += kConstrainMarker.size();
      } else {
        spaced += header[i++];
      }
    }
    header = trim(spaced);
  }
  std::vector<std::string> words = split_ascii_whitespace(header);
  size_t first = 0;  // words[first..] are still unread

  std::optional<std::string> role_word;
  if (!role) {
    if (words.empty()) {
      if (!anomalies) return Status(StatusCode::invalid_argument, "message header did not contain a role");
      anomalies->push_back({AnomalyKind::unknown_role, ""});
      role = fallback_role;
    } else if ((role = role_from_name(words[0]))) {
      role_word = words[0];
    } else if (words.size() > 1 || words[0].compare(0, 3, "to=") == 0) {
      role_word = words[0];  // an unknown author followed by more words is a tool (browser.search to=…)
      role = Role::tool;
      ++first;
    } else {
      if (!anomalies) return error(StatusCode::invalid_argument, "Unknown role: %s", words[0].c_str());
      anomalies->push_back({AnomalyKind::unknown_role, words[0]});
      role = fallback_role;
      ++first;
    }
  }
  if (first < words.size() && words[first] == role_name(*role)) ++first;
  result.header.author.role = *role;
  if (*role == Role::tool) result.header.author.name = role_word;

  size_t end = words.size();
  if (parse_fields && first < end) {
    const size_t count = end - first;
    const std::string last = words[--end];
    if (last.compare(0, 3, "to=") == 0) {
      result.header.recipient = last.substr(3);
    } else if (count == 1) {
      result.header.recipient = last;  // a lone word is the recipient, with or without to=
    } else {
      result.header.content_type = last;
      result.header.recipient = strip_to(words[--end]);
    }
  }
  if (first < end) result.remaining = join_words(words, first, end);
  // Lenient: header debris ("<|channel|>final" from a doubled marker, U+FFFD
  // from undecodable ids) must not become a tool call to a made-up name.
  if (anomalies && result.header.recipient && !is_well_formed_name(*result.header.recipient)) {
    anomalies->push_back({AnomalyKind::bad_recipient, *result.header.recipient});
    result.header.recipient.reset();
  }
  return result;
}

}  // namespace ossrt::harmony
