// Parsing a decoded message header ("assistant to=functions.f<|channel|>commentary <|constrain|>json")
// with harmony's rules, and with recovery for lenient parsing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "ossrt/harmony.hpp"

namespace ossrt::harmony {

struct ParsedHeader {
  Author author;
  std::optional<std::string> recipient, channel, content_type;
};

struct HeaderParse {
  ParsedHeader header;
  std::optional<std::string> remaining;  // words that are not header fields
};

struct HeaderAnomaly {
  AnomalyKind kind;
  std::string text;
};

// harmony's parse_header_from_string. `role`: the role already known (the
// parser's construction role); nullopt reads it from the first word. With
// parse_fields false every word after the role is `remaining` (content of a
// message that lost its <|message|>).
//
// Without `anomalies` (strict): harmony's errors (empty channel, no role,
// unknown role). With it (lenient): never fails; an empty channel is dropped,
// junk glued to a known channel name is cut, a missing or unknown role
// becomes `fallback_role`, each recorded in `anomalies`.
Result<HeaderParse> parse_header(std::string header, std::optional<Role> role, bool parse_fields,
                                 std::vector<HeaderAnomaly>* anomalies = nullptr, Role fallback_role = Role::assistant);

}  // namespace ossrt::harmony
