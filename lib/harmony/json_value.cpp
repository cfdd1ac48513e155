#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdlib>

#include "ossrt/json.hpp"
#include "util/errors.h"
#include "util/strings.h"

namespace ossrt {
namespace {

JsonValue from_element(simdjson::dom::element element) {
  using simdjson::dom::element_type;
  switch (element.type()) {
    case element_type::ARRAY: {
      std::vector<JsonValue> items;
      simdjson::dom::array array;
      if (element.get_array().get(array) == simdjson::SUCCESS)
        for (simdjson::dom::element item : array) items.push_back(from_element(item));
      return JsonValue::array(std::move(items));
    }
    case element_type::OBJECT: {
      std::vector<JsonMember> members;
      simdjson::dom::object object;
      if (element.get_object().get(object) == simdjson::SUCCESS)
        for (simdjson::dom::key_value_pair field : object)
          members.push_back({std::string(field.key), from_element(field.value)});
      return JsonValue::object(std::move(members));
    }
    case element_type::INT64:
      return JsonValue::integer(element.get_int64().value_unsafe());
    case element_type::UINT64:
      return JsonValue::unsigned_integer(element.get_uint64().value_unsafe());
    case element_type::DOUBLE:
      return JsonValue::number(element.get_double().value_unsafe());
    case element_type::STRING:
      return JsonValue::string(std::string(element.get_string().value_unsafe()));
    case element_type::BOOL:
      return JsonValue::boolean(element.get_bool().value_unsafe());
    case element_type::NULL_VALUE:
      break;
  }
  return JsonValue();
}

// serde_json prints finite doubles with ryu's shortest round-trip digits in
// this layout: plain decimals with a ".0" for integral values up to 16 digits,
// "0.000ddd" down to 1e-5, scientific ("1e20", "1.5e-7") beyond.
void append_double(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value, std::chars_format::scientific);
  if (ec != std::errc()) {
    out += "null";
    return;
  }
  std::string_view text(buf, static_cast<size_t>(end - buf));
  if (text.front() == '-') {
    out += '-';
    text.remove_prefix(1);
  }
  const size_t e_pos = text.find('e');
  std::string digits;
  for (char c : text.substr(0, e_pos))
    if (c != '.') digits += c;
  const int exponent10 = std::atoi(std::string(text.substr(e_pos + 1)).c_str());
  while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
  const int length = static_cast<int>(digits.size());
  const int k = exponent10 - (length - 1);  // value = digits * 10^k
  const int kk = length + k;                // 10^(kk-1) <= value < 10^kk
  if (digits == "0") {
    out += "0.0";
  } else if (k >= 0 && kk <= 16) {
    out += digits;
    out.append(static_cast<size_t>(k), '0');
    out += ".0";
  } else if (kk > 0 && kk <= 16) {
    out.append(digits, 0, static_cast<size_t>(kk));
    out += '.';
    out.append(digits, static_cast<size_t>(kk));
  } else if (kk > -5 && kk <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-kk), '0');
    out += digits;
  } else {
    out += digits[0];
    if (length > 1) {
      out += '.';
      out.append(digits, 1);
    }
    out += 'e';
    out += std::to_string(kk - 1);
  }
}

}  // namespace

JsonValue JsonValue::boolean(bool value) {
  JsonValue v;
  v.type_ = Type::boolean;
  v.boolean_ = value;
  return v;
}

JsonValue JsonValue::integer(int64_t value) {
  JsonValue v;
  v.type_ = Type::integer;
  v.integer_ = value;
  return v;
}

JsonValue JsonValue::unsigned_integer(uint64_t value) {
  JsonValue v;
  v.type_ = Type::unsigned_integer;
  v.unsigned_ = value;
  return v;
}

JsonValue JsonValue::number(double value) {
  JsonValue v;
  v.type_ = Type::number;
  v.number_ = value;
  return v;
}

JsonValue JsonValue::string(std::string value) {
  JsonValue v;
  v.type_ = Type::string;
  v.string_ = std::move(value);
  return v;
}

JsonValue JsonValue::array(std::vector<JsonValue> items) {
  JsonValue v;
  v.type_ = Type::array;
  v.items_ = std::move(items);
  return v;
}

JsonValue JsonValue::object(std::vector<JsonMember> members) {
  JsonValue v;
  v.type_ = Type::object;
  for (JsonMember& member : members) {
    JsonMember* existing = nullptr;
    for (JsonMember& kept : v.members_)
      if (kept.key == member.key) existing = &kept;
    if (existing)
      existing->value = std::move(member.value);
    else
      v.members_.push_back(std::move(member));
  }
  return v;
}

Result<JsonValue> JsonValue::parse(std::string_view text, size_t max_depth) noexcept {
  return guard("JsonValue::parse", [&]() -> Result<JsonValue> {
    simdjson::dom::parser parser;
    if (auto code = parser.allocate(text.size() + 1, max_depth))
      return error(StatusCode::invalid_argument, "JSON: %s", simdjson::error_message(code));
    simdjson::dom::element root;
    if (auto code = parser.parse(text.data(), text.size()).get(root)) {
      if (code == simdjson::DEPTH_ERROR)
        return error(StatusCode::invalid_argument, "JSON: nested deeper than %zu levels", max_depth);
      return error(StatusCode::invalid_argument, "JSON: %s", simdjson::error_message(code));
    }
    return from_element(root);
  });
}

const JsonValue* JsonValue::find(std::string_view key) const noexcept {
  for (const JsonMember& member : members_)
    if (member.key == key) return &member.value;
  return nullptr;
}

std::string JsonValue::dump() const {
  std::string out;
  dump_to(out);
  return out;
}

void JsonValue::dump_to(std::string& out) const {
  switch (type_) {
    case Type::null:
      out += "null";
      break;
    case Type::boolean:
      out += boolean_ ? "true" : "false";
      break;
    case Type::integer:
      out += std::to_string(integer_);
      break;
    case Type::unsigned_integer:
      out += std::to_string(unsigned_);
      break;
    case Type::number:
      append_double(out, number_);
      break;
    case Type::string:
      append_json_string(out, string_);
      break;
    case Type::array:
      out += '[';
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i) out += ',';
        items_[i].dump_to(out);
      }
      out += ']';
      break;
    case Type::object:
      out += '{';
      for (size_t i = 0; i < members_.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, members_[i].key);
        out += ':';
        members_[i].value.dump_to(out);
      }
      out += '}';
      break;
  }
}

bool operator==(const JsonValue& a, const JsonValue& b) {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case JsonValue::Type::null:
      return true;
    case JsonValue::Type::boolean:
      return a.boolean_ == b.boolean_;
    case JsonValue::Type::integer:
      return a.integer_ == b.integer_;
    case JsonValue::Type::unsigned_integer:
      return a.unsigned_ == b.unsigned_;
    case JsonValue::Type::number:
      return a.number_ == b.number_;
    case JsonValue::Type::string:
      return a.string_ == b.string_;
    case JsonValue::Type::array:
      return a.items_ == b.items_;
    case JsonValue::Type::object:
      return a.members_ == b.members_;
  }
  return false;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  append_escaped(out, text, EscapeStyle::json);
  out += '"';
}

}  // namespace ossrt
