// JsonValue: a small immutable-by-convention JSON tree that keeps object keys
// in document order. Harmony renders tool parameter schemas property by
// property in JSON order, so an order-losing map would change the prompt.
//
// Numbers keep their kind (signed, unsigned, floating) and print the way
// serde_json prints them, because harmony echoes `default` values into the
// rendered prompt verbatim ("1.0" stays "1.0", 1e20 prints "1e20").
//
// Thread rules: const members are safe from any number of threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ossrt/status.hpp"

namespace ossrt {

struct JsonMember;

class JsonValue {
 public:
  enum class Type { null, boolean, integer, unsigned_integer, number, string, array, object };

  JsonValue() noexcept = default;  // null
  static JsonValue boolean(bool value);
  static JsonValue integer(int64_t value);
  static JsonValue unsigned_integer(uint64_t value);
  static JsonValue number(double value);
  static JsonValue string(std::string value);
  static JsonValue array(std::vector<JsonValue> items);
  // Members in the order given; a repeated key keeps its first position and
  // takes the last value (serde_json's preserve_order behaviour).
  static JsonValue object(std::vector<JsonMember> members);

  // Parses one JSON document. Nesting deeper than max_depth (arrays and
  // objects) is refused so that no caller recursion can be driven unbounded.
  // Integer literals beyond 64 bits are refused (serde_json reads them as
  // floats; simdjson cannot). Failure: invalid_argument with simdjson's
  // reason and, for depth, the limit.
  static Result<JsonValue> parse(std::string_view text, size_t max_depth = 64) noexcept;

  Type type() const noexcept { return type_; }
  bool is_null() const noexcept { return type_ == Type::null; }
  bool is_bool() const noexcept { return type_ == Type::boolean; }
  bool is_string() const noexcept { return type_ == Type::string; }
  bool is_array() const noexcept { return type_ == Type::array; }
  bool is_object() const noexcept { return type_ == Type::object; }
  bool is_number() const noexcept {
    return type_ == Type::integer || type_ == Type::unsigned_integer || type_ == Type::number;
  }

  bool as_bool() const noexcept { return boolean_; }
  // The text of a string value; empty for other types.
  const std::string& as_string() const noexcept { return string_; }
  // Elements of an array; empty for other types.
  const std::vector<JsonValue>& items() const noexcept { return items_; }
  // Members of an object in document order; empty for other types.
  const std::vector<JsonMember>& members() const noexcept { return members_; }
  // The member named `key` of an object, or nullptr (also for non-objects).
  const JsonValue* find(std::string_view key) const noexcept;

  // Compact JSON exactly as serde_json's Display writes it.
  std::string dump() const;
  void dump_to(std::string& out) const;

  friend bool operator==(const JsonValue& a, const JsonValue& b);

 private:
  Type type_ = Type::null;
  bool boolean_ = false;
  int64_t integer_ = 0;
  uint64_t unsigned_ = 0;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<JsonMember> members_;
};

struct JsonMember {
  std::string key;
  JsonValue value;
  friend bool operator==(const JsonMember& a, const JsonMember& b) { return a.key == b.key && a.value == b.value; }
};

// Appends `text` as a JSON string literal (quotes included) with serde_json's
// escaping: `"`, `\`, and control characters; everything else verbatim.
void append_json_string(std::string& out, std::string_view text);

}  // namespace ossrt
