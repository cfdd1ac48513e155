// A JSON document with the byte offset of every value and key, so that the
// schema compiler can say where an invalid or unsupported keyword is.
// JsonValue (ossrt/json.hpp) keeps no positions, hence this small tree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ossrt/status.hpp"

namespace ossrt::constrain {

struct DocMember;

struct DocValue {
  enum class Type : uint8_t { null, boolean, number, string, array, object };
  Type type = Type::null;
  bool boolean = false;
  bool is_integer = false;  // an integer literal that fits int64
  int64_t integer = 0;
  double number = 0;
  size_t offset = 0;  // byte position of the value in the document
  std::string text;   // string: the unescaped value; number: its literal as written
  std::vector<DocValue> items;
  std::vector<DocMember> members;

  const DocValue* find(std::string_view key) const noexcept;
  // Compact JSON text (numbers as written), the form a constant is generated in.
  void dump_to(std::string& out) const;
};

struct DocMember {
  std::string key;
  size_t key_offset = 0;
  DocValue value;
};

// Parses `text`; nesting deeper than max_depth is refused. Failure:
// invalid_argument "invalid JSON at byte N: reason".
Result<DocValue> parse_document(std::string_view text, size_t max_depth = 128) noexcept;

}  // namespace ossrt::constrain
