#include "constrain/schema_document.h"

#include <simdjson.h>

#include "ossrt/json.hpp"
#include "util/errors.h"

namespace ossrt::constrain {
namespace {

namespace od = simdjson::ondemand;

class Reader {
 public:
  Reader(const char* base, size_t max_depth) : base_(base), max_depth_(max_depth) {}

  // Reads one value; on failure records the simdjson error and where it happened.
  bool read(od::value value, DocValue& out, size_t depth) {
    const char* at = nullptr;
    if (fail(value.current_location().get(at))) return false;
    out.offset = static_cast<size_t>(at - base_);
    od::json_type type;
    if (fail(value.type().get(type))) return false;
    switch (type) {
      case od::json_type::object: {
        if (depth >= max_depth_) return fail_depth(out.offset);
        out.type = DocValue::Type::object;
        od::object object;
        if (fail(value.get_object().get(object))) return false;
        for (auto field_result : object) {
          od::field field;
          if (fail(std::move(field_result).get(field))) return false;
          DocMember member;
          member.key_offset = static_cast<size_t>(field.key().raw() - 1 - base_);
          std::string_view key;
          if (fail(field.unescaped_key().get(key))) return false;
          member.key = std::string(key);
          if (!read(field.value(), member.value, depth + 1)) return false;
          out.members.push_back(std::move(member));
        }
        return true;
      }
      case od::json_type::array: {
        if (depth >= max_depth_) return fail_depth(out.offset);
        out.type = DocValue::Type::array;
        od::array array;
        if (fail(value.get_array().get(array))) return false;
        for (auto item_result : array) {
          od::value item;
          if (fail(std::move(item_result).get(item))) return false;
          DocValue child;
          if (!read(item, child, depth + 1)) return false;
          out.items.push_back(std::move(child));
        }
        return true;
      }
      case od::json_type::string: {
        out.type = DocValue::Type::string;
        std::string_view text;
        if (fail(value.get_string().get(text))) return false;
        out.text = std::string(text);
        return true;
      }
      case od::json_type::number: {
        out.type = DocValue::Type::number;
        std::string_view raw = value.raw_json_token();
        while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t'))
          raw.remove_suffix(1);
        out.text = std::string(raw);
        od::number number;
        if (fail(value.get_number().get(number))) return false;
        if (number.is_int64()) {
          out.is_integer = true;
          out.integer = number.get_int64();
          out.number = static_cast<double>(out.integer);
        } else {
          out.number = number.as_double();
        }
        return true;
      }
      case od::json_type::boolean: {
        out.type = DocValue::Type::boolean;
        return !fail(value.get_bool().get(out.boolean));
      }
      case od::json_type::null: {
        out.type = DocValue::Type::null;
        bool is_null = false;
        if (fail(value.is_null().get(is_null))) return false;
        if (!is_null) return fail(simdjson::N_ATOM_ERROR);
        return true;
      }
    }
    return fail(simdjson::TAPE_ERROR);
  }

  bool fail(simdjson::error_code code) {
    if (code == simdjson::SUCCESS) return false;
    if (code_ == simdjson::SUCCESS) code_ = code;
    return true;
  }
  bool fail_depth(size_t offset) {
    depth_offset_ = offset;
    code_ = simdjson::DEPTH_ERROR;
    return false;
  }
  simdjson::error_code code() const { return code_; }
  size_t depth_offset() const { return depth_offset_; }

 private:
  const char* base_;
  size_t max_depth_;
  simdjson::error_code code_ = simdjson::SUCCESS;
  size_t depth_offset_ = 0;
};

void dump_number_or_text(const DocValue& value, std::string& out) {
  out += value.text;
}

}  // namespace

const DocValue* DocValue::find(std::string_view key) const noexcept {
  for (const DocMember& member : members)
    if (member.key == key) return &member.value;
  return nullptr;
}

void DocValue::dump_to(std::string& out) const {
  switch (type) {
    case Type::null:
      out += "null";
      return;
    case Type::boolean:
      out += boolean ? "true" : "false";
      return;
    case Type::number:
      dump_number_or_text(*this, out);
      return;
    case Type::string:
      append_json_string(out, text);
      return;
    case Type::array:
      out += '[';
      for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        items[i].dump_to(out);
      }
      out += ']';
      return;
    case Type::object:
      out += '{';
      for (size_t i = 0; i < members.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, members[i].key);
        out += ':';
        members[i].value.dump_to(out);
      }
      out += '}';
      return;
  }
}

namespace {

// Offset of the first byte that does not continue well-formed UTF-8 (lead
// bytes and continuation counts only), or 0 when the text is well formed.
size_t first_invalid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const size_t length = lead < 0x80           ? 1
                          : (lead >> 5) == 0x6  ? 2
                          : (lead >> 4) == 0xe  ? 3
                          : (lead >> 3) == 0x1e ? 4
                                                : 0;
    if (length == 0 || i + length > text.size()) return i;
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xc0) != 0x80) return i;
    }
    i += length;
  }
  return 0;
}

}  // namespace

Result<DocValue> parse_document(std::string_view text, size_t max_depth) noexcept {
  return guard("parse_document", [&]() -> Result<DocValue> {
    // An empty text would hand simdjson a null buffer (undefined behaviour
    // in its on-demand parser; found by fuzz.schema).
    if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      return error(StatusCode::invalid_argument, "invalid JSON at byte %zu: the schema is empty", text.size());
    }
    const simdjson::padded_string padded(text);
    od::parser parser;
    od::document document;
    auto located = [&](simdjson::error_code code, size_t fallback) -> Status {
      const char* at = nullptr;
      size_t offset = fallback;
      if (document.current_location().get(at) == simdjson::SUCCESS) offset = static_cast<size_t>(at - padded.data());
      if (offset > text.size()) offset = text.size();
      return error(StatusCode::invalid_argument, "invalid JSON at byte %zu: %s", offset, simdjson::error_message(code));
    };
    // A failed iterate leaves no document to ask for a location (asking is
    // undefined behaviour in simdjson; found by fuzz.schema): stage 1 failed
    // on the whole text, e.g. invalid UTF-8.
    if (auto code = parser.iterate(padded).get(document)) {
      return error(StatusCode::invalid_argument, "invalid JSON at byte %zu: %s", first_invalid_utf8(text),
                   simdjson::error_message(code));
    }
    DocValue root;
    Reader reader(padded.data(), max_depth);
    od::value value;
    // A scalar document is not a value in simdjson's on-demand API; schemas
    // may be `true`/`false`, the only scalars accepted here.
    bool scalar = false;
    if (document.is_scalar().get(scalar)) return located(simdjson::TAPE_ERROR, 0);
    if (scalar) {
      bool boolean = false;
      if (auto code = document.get_bool().get(boolean)) return located(code, 0);
      root.type = DocValue::Type::boolean;
      root.boolean = boolean;
    } else {
      if (auto code = document.get_value().get(value)) return located(code, 0);
      if (!reader.read(value, root, 0)) {
        if (reader.code() == simdjson::DEPTH_ERROR)
          return error(StatusCode::invalid_argument, "invalid JSON at byte %zu: nested deeper than %zu levels",
                       reader.depth_offset(), max_depth);
        return located(reader.code(), text.size());
      }
    }
    // Whatever follows the root value: simdjson's on-demand API points at it.
    const char* rest = nullptr;
    if (!scalar && document.current_location().get(rest) == simdjson::SUCCESS)
      return error(StatusCode::invalid_argument, "invalid JSON at byte %zu: %s",
                   static_cast<size_t>(rest - padded.data()), simdjson::error_message(simdjson::TRAILING_CONTENT));
    return root;
  });
}

}  // namespace ossrt::constrain
