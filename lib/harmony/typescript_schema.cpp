// JSON schema → the TypeScript-like type harmony writes into the tools
// section. Every branch mirrors harmony v0.0.8's json_schema_to_typescript,
// odd indentation included: the model was trained on exactly this text.
#include "harmony/typescript_schema.h"

#include <algorithm>

#include "util/errors.h"
#include "util/strings.h"

namespace ossrt::harmony {
namespace {

constexpr int kMaxSchemaDepth = 128;

const std::string* string_member(const JsonValue& value, std::string_view key) {
  const JsonValue* member = value.find(key);
  return member && member->is_string() ? &member->as_string() : nullptr;
}

bool is_enum(const JsonValue& schema) {
  const JsonValue* values = schema.find("enum");
  return values && values->is_array() && !values->items().empty();
}

bool is_nullable(const JsonValue& schema) {
  const JsonValue* nullable = schema.find("nullable");
  return nullable && nullable->is_bool() && nullable->as_bool();
}

// A property's `default` as harmony prints it: strings quoted unless the
// schema is an enum (then bare), other values as compact JSON.
std::string property_default(const JsonValue& value, const JsonValue& schema) {
  if (value.is_string()) return is_enum(schema) ? value.as_string() : "\"" + value.as_string() + "\"";
  return value.dump();
}

// A top-level oneOf variant's `default`: enum strings keep their JSON quotes.
std::string variant_default(const JsonValue& value, const JsonValue& schema) {
  if (value.is_string() && !is_enum(schema)) return "\"" + value.as_string() + "\"";
  return value.dump();
}

class Converter {
 public:
  bool too_deep = false;

  std::string convert(const JsonValue& schema, const std::string& indent, int depth) {
    if (depth > kMaxSchemaDepth) {
      too_deep = true;
      return "any";
    }
    if (const JsonValue* one_of = schema.find("oneOf"); one_of && one_of->is_array())
      return top_level_one_of(one_of->items(), indent, depth);
    const JsonValue* type = schema.find("type");
    if (type && type->is_array()) {
      std::vector<std::string> names;
      for (const JsonValue& name : type->items())
        if (name.is_string()) names.push_back(name.as_string() == "integer" ? "number" : name.as_string());
      if (!names.empty()) return join(names, " | ");
    }
    if (!type || !type->is_string()) return "any";
    const std::string& name = type->as_string();
    if (name == "object") return object(schema, indent, depth);
    if (name == "string") return string_type(schema);
    if (name == "number" || name == "integer") return "number";
    if (name == "boolean") return "boolean";
    if (name == "array") {
      const JsonValue* items = schema.find("items");
      return items ? convert(*items, indent, depth + 1) + "[]" : "Array<any>";
    }
    return "any";
  }

 private:
  std::string with_null(std::string type, const JsonValue& schema) {
    if (is_nullable(schema) && type.find("null") == std::string::npos) type += " | null";
    return type;
  }

  std::string top_level_one_of(const std::vector<JsonValue>& variants, const std::string& indent, int depth) {
    std::string out;
    for (const JsonValue& variant : variants) {
      out += "\n" + indent + " | ";
      out += with_null(convert(variant, indent + "   ", depth + 1), variant);
      std::vector<std::string> comments;
      if (const std::string* description = string_member(variant, "description")) comments.push_back(*description);
      if (const JsonValue* value = variant.find("default"))
        comments.push_back("default: " + variant_default(*value, variant));
      if (!comments.empty()) out += " // " + join(comments, " ");
    }
    return out;
  }

  static std::string string_type(const JsonValue& schema) {
    if (const JsonValue* values = schema.find("enum"); values && values->is_array()) {
      std::vector<std::string> quoted;
      for (const JsonValue& value : values->items())
        if (value.is_string()) quoted.push_back("\"" + value.as_string() + "\"");
      if (!quoted.empty()) return join(quoted, " | ");
    }
    return "string";
  }

  std::string object(const JsonValue& schema, const std::string& indent, int depth) {
    std::string out;
    if (const std::string* description = string_member(schema, "description"))
      out += indent + "// " + *description + "\n";
    out += "{\n";
    const JsonValue* properties = schema.find("properties");
    if (properties && properties->is_object()) {
      std::vector<std::string> required;
      if (const JsonValue* names = schema.find("required"); names && names->is_array())
        for (const JsonValue& name : names->items())
          if (name.is_string()) required.push_back(name.as_string());
      for (const JsonMember& property : properties->members()) {
        const bool is_required = std::find(required.begin(), required.end(), property.key) != required.end();
        out += property_text(property.key, property.value, is_required, indent, depth);
      }
    }
    out += indent + "}";
    return out;
  }

  std::string property_text(const std::string& key, const JsonValue& value, bool is_required, const std::string& indent,
                            int depth) {
    std::string out;
    const std::string optional_mark = is_required ? "" : "?";
    if (const std::string* title = string_member(value, "title"))
      out += indent + "// " + *title + "\n" + indent + "//\n";
    const JsonValue* one_of = value.find("oneOf");
    if (!one_of)
      if (const std::string* description = string_member(value, "description"))
        out += indent + "// " + *description + "\n";
    if (const JsonValue* examples = value.find("examples");
        examples && examples->is_array() && !examples->items().empty()) {
      out += indent + "// Examples:\n";
      for (const JsonValue& example : examples->items())
        if (example.is_string()) out += indent + "// - \"" + example.as_string() + "\"\n";
    }
    if (one_of && one_of->is_array()) {
      out += one_of_property(key, value, one_of->items(), optional_mark, indent, depth);
      return out;
    }
    out += indent + key + optional_mark + ": ";
    out += with_null(convert(value, indent + "    ", depth + 1), value);
    out += ',';
    if (!one_of)
      if (const JsonValue* default_value = value.find("default"))
        out += " // default: " + property_default(*default_value, value);
    out += '\n';
    return out;
  }

  std::string one_of_property(const std::string& key, const JsonValue& value, const std::vector<JsonValue>& variants,
                              const std::string& optional_mark, const std::string& indent, int depth) {
    std::string out;
    const std::string* property_description = string_member(value, "description");
    const std::string* first_description = variants.empty() ? nullptr : string_member(variants.front(), "description");
    const bool skip_description =
        property_description && first_description && *property_description == *first_description;
    bool description_above = false;
    if (property_description && !skip_description) {
      out += indent + "// " + *property_description + "\n";
      description_above = true;
    }
    if (const JsonValue* default_value = value.find("default"))
      out += indent + "// default: " + property_default(*default_value, value) + "\n";
    out += indent + key + optional_mark + ":\n";
    for (size_t i = 0; i < variants.size(); ++i) {
      const JsonValue& variant = variants[i];
      out += indent + " | ";
      out += with_null(convert(variant, indent + "   ", depth + 1), variant);
      std::vector<std::string> comments;
      const std::string* description = string_member(variant, "description");
      if (!(i == 0 && description_above) && description &&
          !(property_description && *description == *property_description))
        comments.push_back(*description);
      if (const JsonValue* default_value = variant.find("default"))
        comments.push_back("default: " + property_default(*default_value, variant));
      if (!comments.empty()) out += " // " + join(comments, " ");
      out += '\n';
    }
    out += indent + ",\n";
    return out;
  }
};

// Rust's str::lines(): split on '\n', drop one trailing '\r' per line, no
// final empty line.
std::vector<std::string_view> rust_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

}  // namespace

Result<std::string> json_schema_to_typescript(const JsonValue& schema) noexcept {
  return guard("json_schema_to_typescript", [&]() -> Result<std::string> {
    Converter converter;
    std::string text = converter.convert(schema, "", 0);
    if (converter.too_deep)
      return error(StatusCode::invalid_argument, "tool parameters: schema nested deeper than %d levels",
                   kMaxSchemaDepth);
    return text;
  });
}

Result<std::string> tools_section(const ToolNamespaces& namespaces) {
  std::vector<std::string> sections{"# Tools"};
  for (const auto& [key, ns] : namespaces) {
    std::vector<std::string> parts{"## " + ns.name + "\n"};
    const bool has_tools = !ns.tools.empty();
    if (ns.description)
      for (std::string_view line : rust_lines(*ns.description))
        parts.push_back(has_tools ? "// " + std::string(line) : std::string(line));
    if (has_tools) {
      parts.push_back("namespace " + ns.name + " {\n");
      for (const ToolDescription& tool : ns.tools) {
        for (std::string_view line : rust_lines(tool.description)) parts.push_back("// " + std::string(line));
        if (tool.parameters) {
          auto type = json_schema_to_typescript(*tool.parameters);
          if (!type.ok()) return type.status();
          parts.push_back("type " + tool.name + " = (_: " + type.value() + ") => any;\n");
        } else {
          parts.push_back("type " + tool.name + " = () => any;\n");
        }
      }
      parts.push_back("} // namespace " + ns.name);
    }
    sections.push_back(join(parts, "\n"));
  }
  return join(sections, "\n\n");
}

}  // namespace ossrt::harmony
