#include "constrain/grammar.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>

#include "constrain/schema_document.h"
#include "ossrt/json.hpp"
#include "util/errors.h"

namespace ossrt::constrain {

// ---- LiteralTries ----

int32_t LiteralTries::new_root() {
  nodes_.emplace_back();
  return static_cast<int32_t>(nodes_.size() - 1);
}

void LiteralTries::insert(int32_t root, std::string_view text, int32_t value) {
  int32_t node = root;
  for (char c : text) {
    const auto byte = static_cast<uint8_t>(c);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = new_root();
      nodes_[static_cast<size_t>(node)].edges.emplace_back(byte, next);
    }
    node = next;
  }
  if (nodes_[static_cast<size_t>(node)].value < 0) nodes_[static_cast<size_t>(node)].value = value;
}

void LiteralTries::finish() {
  // Children always have larger ids than their parent: one backward pass.
  for (Node& n : nodes_) n.below.clear();
  for (size_t i = nodes_.size(); i-- > 0;) {
    Node& n = nodes_[i];
    if (n.value >= 0) n.below.push_back(n.value);
    for (auto [byte, c] : n.edges) {
      const auto& sub = nodes_[static_cast<size_t>(c)].below;
      n.below.insert(n.below.end(), sub.begin(), sub.end());
    }
    std::sort(n.below.begin(), n.below.end());
    n.below.erase(std::unique(n.below.begin(), n.below.end()), n.below.end());
  }
}

int32_t LiteralTries::child(int32_t node, uint8_t byte) const noexcept {
  if (node < 0) return -1;
  for (auto [b, c] : nodes_[static_cast<size_t>(node)].edges)
    if (b == byte) return c;
  return -1;
}

bool LiteralTries::has_value_in(int32_t node, int32_t lo, int32_t hi) const noexcept {
  const auto& below = nodes_[static_cast<size_t>(node)].below;
  auto it = std::lower_bound(below.begin(), below.end(), lo);
  return it != below.end() && *it <= hi;
}

// ---- Schema compiler ----

namespace {

// Keywords that only describe: accepted and ignored.
bool is_annotation(std::string_view key) {
  static const char* const kAnnotations[] = {"title",     "description", "default",    "examples",   "$comment",
                                             "$schema",   "$id",         "$anchor",    "deprecated", "readOnly",
                                             "writeOnly", "$defs",       "definitions"};
  for (const char* a : kAnnotations)
    if (key == a) return true;
  return false;
}

const char* const kObjectKeywords[] = {"properties", "required", "additionalProperties"};
const char* const kArrayKeywords[] = {"items", "prefixItems", "minItems", "maxItems"};
const char* const kStringKeywords[] = {"minLength", "maxLength", "pattern", "format"};
const char* const kIntegerKeywords[] = {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"};
const char* const kOtherKeywords[] = {"type", "enum", "const", "anyOf", "oneOf", "allOf", "$ref"};

template <size_t N>
bool in(std::string_view key, const char* const (&list)[N]) {
  for (const char* k : list)
    if (key == k) return true;
  return false;
}

// Fixed patterns whose strings every validator's format check accepts (days
// stop at 28 so that every month has them).
const char* format_pattern(std::string_view format) {
  if (format == "date") return "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$";
  if (format == "date-time")
    return "^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?"
           "(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$";
  if (format == "uuid") return "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
  if (format == "email")
    return "^[A-Za-z0-9_+-]+(\\.[A-Za-z0-9_+-]+)*@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\\.)+[A-Za-z]{2,}$";
  return nullptr;
}

}  // namespace

class SchemaCompiler {
 public:
  SchemaCompiler(Grammar& grammar, const DocValue& document) : g_(grammar), document_(document) {}

  Result<int32_t> compile(const DocValue& schema) {
    if (schema.type == DocValue::Type::boolean) return schema.boolean ? Grammar::kAny : add(Node{});
    if (schema.type != DocValue::Type::object) return fail(schema.offset, "a schema must be an object or a boolean");
    if (auto it = memo_.find(&schema); it != memo_.end()) return it->second;
    const int32_t id = add(Node{});
    memo_.emplace(&schema, id);
    auto node = build(schema);
    if (!node.ok()) return node.status();
    g_.nodes_[static_cast<size_t>(id)] = std::move(node.value());
    return id;
  }

 private:
  int32_t add(Node node) {
    g_.nodes_.push_back(std::move(node));
    return static_cast<int32_t>(g_.nodes_.size() - 1);
  }

  template <class... Args>
  Status fail(size_t offset, const char* fmt, Args... args) {
    return Status(StatusCode::invalid_argument, format("schema at byte %zu: ", offset) + format(fmt, args...));
  }

  Result<Node> build(const DocValue& schema) {
    bool constraining = false;  // anything beyond $ref / anyOf / annotations
    for (const DocMember& m : schema.members) {
      if (is_annotation(m.key)) continue;
      if (!in(m.key, kObjectKeywords) && !in(m.key, kArrayKeywords) && !in(m.key, kStringKeywords) &&
          !in(m.key, kIntegerKeywords) && !in(m.key, kOtherKeywords))
        return fail(m.key_offset, "unsupported keyword '%s'", m.key.c_str());
      if (m.key != "$ref" && m.key != "anyOf" && m.key != "oneOf" && m.key != "allOf") constraining = true;
    }
    size_t combinators = 0;
    for (const char* k : {"$ref", "anyOf", "oneOf", "allOf"}) combinators += schema.find(k) ? 1 : 0;
    if (combinators > 1 || (combinators == 1 && constraining))
      return fail(schema.offset, "$ref/anyOf/oneOf/allOf combined with other constraints is not supported");

    if (const DocValue* ref = schema.find("$ref")) return build_ref(*ref);
    if (const DocValue* all = schema.find("allOf")) {
      if (all->type != DocValue::Type::array || all->items.size() != 1)
        return fail(all->offset, "allOf is supported only with exactly one schema");
      return alias(compile(all->items[0]));
    }
    for (const char* k : {"anyOf", "oneOf"})
      if (const DocValue* list = schema.find(k)) {
        if (list->type != DocValue::Type::array || list->items.empty())
          return fail(list->offset, "'%s' must be a non-empty array of schemas", k);
        Node choice;
        choice.kind = NodeKind::choice;
        for (const DocValue& item : list->items) {
          auto option = compile(item);
          if (!option.ok()) return option.status();
          choice.options.push_back(option.value());
        }
        return choice;
      }

    // The types this schema admits: from "type", else from its keywords.
    std::vector<std::string> types;
    if (const DocValue* type = schema.find("type")) {
      if (type->type == DocValue::Type::string) {
        types.push_back(type->text);
      } else if (type->type == DocValue::Type::array && !type->items.empty()) {
        for (const DocValue& t : type->items) {
          if (t.type != DocValue::Type::string) return fail(t.offset, "'type' entries must be strings");
          types.push_back(t.text);
        }
      } else {
        return fail(type->offset, "'type' must be a string or a non-empty array of strings");
      }
      for (size_t i = 0; i < types.size(); ++i) {
        static const char* const kTypes[] = {"object", "array", "string", "number", "integer", "boolean", "null"};
        if (!in(types[i], kTypes)) return fail(type->offset, "unknown type '%s'", types[i].c_str());
      }
    } else {
      bool object = false, array = false, string = false, integer = false;
      for (const DocMember& m : schema.members) {
        object |= in(m.key, kObjectKeywords);
        array |= in(m.key, kArrayKeywords);
        string |= in(m.key, kStringKeywords);
        integer |= in(m.key, kIntegerKeywords);
      }
      if (object) types.push_back("object");
      if (array) types.push_back("array");
      if (string) types.push_back("string");
      if (integer) types.push_back("integer");
    }

    const DocValue* enum_list = schema.find("enum");
    const DocValue* constant = schema.find("const");
    if (enum_list || constant) return build_literal(enum_list, constant, types);
    if (types.empty()) return alias(Grammar::kAny);

    std::vector<int32_t> options;
    for (const std::string& type : types) {
      Result<int32_t> option = Grammar::kAny;
      if (type == "boolean") {
        option = Grammar::kBoolean;
      } else if (type == "null") {
        option = Grammar::kNull;
      } else {
        Result<Node> concrete = type == "object"   ? build_object(schema)
                                : type == "array"  ? build_array(schema)
                                : type == "string" ? build_string(schema)
                                                   : build_number(schema, type == "integer");
        if (!concrete.ok()) return concrete.status();
        option = add(std::move(concrete.value()));
      }
      options.push_back(option.value());
    }
    if (options.size() == 1) return alias(options[0]);
    Node choice;
    choice.kind = NodeKind::choice;
    choice.options = std::move(options);
    return choice;
  }

  static Result<Node> alias(Result<int32_t> target) {
    if (!target.ok()) return target.status();
    Node node;
    node.kind = NodeKind::alias;
    node.target = target.value();
    return node;
  }

  Result<Node> build_ref(const DocValue& ref) {
    if (ref.type != DocValue::Type::string) return fail(ref.offset, "'$ref' must be a string");
    const std::string& text = ref.text;
    if (text.empty() || text[0] != '#') return fail(ref.offset, "only local references ('#/...') are supported");
    const DocValue* at = &document_;
    size_t pos = 1;
    while (pos < text.size()) {
      if (text[pos] != '/') return fail(ref.offset, "'$ref' '%s' is not a JSON pointer", text.c_str());
      const size_t end = std::min(text.find('/', pos + 1), text.size());
      std::string token;
      for (size_t i = pos + 1; i < end; ++i) {
        if (text[i] == '~' && i + 1 < end && (text[i + 1] == '0' || text[i + 1] == '1')) {
          token += text[++i] == '0' ? '~' : '/';
        } else {
          token += text[i];
        }
      }
      const DocValue* next = nullptr;
      if (at->type == DocValue::Type::object) {
        next = at->find(token);
      } else if (at->type == DocValue::Type::array && !token.empty() &&
                 token.find_first_not_of("0123456789") == std::string::npos && token.size() < 9) {
        const size_t index = std::stoul(token);
        if (index < at->items.size()) next = &at->items[index];
      }
      if (!next) return fail(ref.offset, "'$ref' '%s' does not resolve", text.c_str());
      at = next;
      pos = end;
    }
    return alias(compile(*at));
  }

  Result<Node> build_literal(const DocValue* enum_list, const DocValue* constant,
                             const std::vector<std::string>& types) {
    std::vector<const DocValue*> values;
    if (enum_list) {
      if (enum_list->type != DocValue::Type::array || enum_list->items.empty())
        return fail(enum_list->offset, "'enum' must be a non-empty array");
      for (const DocValue& v : enum_list->items) values.push_back(&v);
    }
    if (constant) {
      if (enum_list) return fail(constant->offset, "'enum' together with 'const' is not supported");
      values.push_back(constant);
    }
    Node node;
    node.kind = NodeKind::literal;
    node.trie = g_.tries_.new_root();
    int32_t index = 0;
    for (const DocValue* v : values) {
      if (!types.empty() && !admits(types, *v)) continue;
      std::string text;
      v->dump_to(text);
      g_.tries_.insert(node.trie, text, index++);
    }
    if (index == 0) return fail((enum_list ? enum_list : constant)->offset, "no 'enum'/'const' value has the 'type'");
    return node;
  }

  static bool admits(const std::vector<std::string>& types, const DocValue& v) {
    for (const std::string& t : types) {
      switch (v.type) {
        case DocValue::Type::null:
          if (t == "null") return true;
          break;
        case DocValue::Type::boolean:
          if (t == "boolean") return true;
          break;
        case DocValue::Type::number:
          if (t == "number" || (t == "integer" && v.is_integer)) return true;
          break;
        case DocValue::Type::string:
          if (t == "string") return true;
          break;
        case DocValue::Type::array:
          if (t == "array") return true;
          break;
        case DocValue::Type::object:
          if (t == "object") return true;
          break;
      }
    }
    return false;
  }

  Result<int32_t> subschema_or_none(const DocValue* v, int32_t absent) {
    if (!v) return absent;
    if (v->type == DocValue::Type::boolean) return v->boolean ? Grammar::kAny : -1;
    return compile(*v);
  }

  Result<Node> build_object(const DocValue& schema) {
    Node node;
    node.kind = NodeKind::object;
    node.keys = g_.tries_.new_root();
    if (const DocValue* properties = schema.find("properties")) {
      if (properties->type != DocValue::Type::object) return fail(properties->offset, "'properties' must be an object");
      for (const DocMember& m : properties->members) {
        for (const Property& p : node.properties)
          if (p.name == m.key) return fail(m.key_offset, "property '%s' is listed twice", m.key.c_str());
        auto child = compile(m.value);
        if (!child.ok()) return child.status();
        node.properties.push_back({m.key, child.value(), false});
      }
    }
    if (const DocValue* required = schema.find("required")) {
      if (required->type != DocValue::Type::array) return fail(required->offset, "'required' must be an array");
      for (const DocValue& r : required->items) {
        if (r.type != DocValue::Type::string) return fail(r.offset, "'required' entries must be strings");
        auto it = std::find_if(node.properties.begin(), node.properties.end(),
                               [&](const Property& p) { return p.name == r.text; });
        if (it == node.properties.end())
          return fail(r.offset, "required property '%s' is not in 'properties'", r.text.c_str());
        it->required = true;
      }
    }
    auto additional = subschema_or_none(schema.find("additionalProperties"), -1);
    if (!additional.ok()) return additional.status();
    node.additional = additional.value();
    for (size_t i = 0; i < node.properties.size(); ++i) {
      std::string quoted;
      append_json_string(quoted, node.properties[i].name);
      g_.tries_.insert(node.keys, quoted, static_cast<int32_t>(i));
    }
    return node;
  }

  Result<uint32_t> count(const DocValue& schema, const char* key, uint32_t absent) {
    const DocValue* v = schema.find(key);
    if (!v) return absent;
    if (v->type != DocValue::Type::number || !v->is_integer || v->integer < 0)
      return fail(v->offset, "'%s' must be a non-negative integer", key);
    return static_cast<uint32_t>(std::min<int64_t>(v->integer, std::numeric_limits<uint32_t>::max()));
  }

  Result<Node> build_array(const DocValue& schema) {
    Node node;
    node.kind = NodeKind::array;
    if (const DocValue* prefix = schema.find("prefixItems")) {
      if (prefix->type != DocValue::Type::array) return fail(prefix->offset, "'prefixItems' must be an array");
      for (const DocValue& item : prefix->items) {
        auto child = compile(item);
        if (!child.ok()) return child.status();
        node.prefix_items.push_back(child.value());
      }
    }
    const DocValue* items = schema.find("items");
    if (items && items->type == DocValue::Type::array)
      return fail(items->offset, "'items' as an array is not supported: use 'prefixItems'");
    auto item = subschema_or_none(items, Grammar::kAny);
    if (!item.ok()) return item.status();
    node.items = item.value();
    auto lo = count(schema, "minItems", 0);
    auto hi = count(schema, "maxItems", std::numeric_limits<uint32_t>::max());
    if (!lo.ok()) return lo.status();
    if (!hi.ok()) return hi.status();
    node.min_items = lo.value();
    node.max_items = hi.value();
    if (node.items < 0)
      node.max_items = std::min<uint32_t>(node.max_items, static_cast<uint32_t>(node.prefix_items.size()));
    if (node.min_items > node.max_items)
      return fail(schema.offset, "the array's minItems exceeds the items it may have");
    return node;
  }

  Result<Node> build_string(const DocValue& schema) {
    Node node;
    node.kind = NodeKind::string;
    auto lo = count(schema, "minLength", 0);
    auto hi = count(schema, "maxLength", std::numeric_limits<uint32_t>::max());
    if (!lo.ok()) return lo.status();
    if (!hi.ok()) return hi.status();
    node.min_length = lo.value();
    node.max_length = hi.value();
    if (node.min_length > node.max_length) return fail(schema.offset, "minLength exceeds maxLength");
    const DocValue* pattern = schema.find("pattern");
    const DocValue* fmt = schema.find("format");
    if (pattern && fmt) return fail(fmt->offset, "'pattern' together with 'format' is not supported");
    std::string regex;
    if (pattern) {
      if (pattern->type != DocValue::Type::string) return fail(pattern->offset, "'pattern' must be a string");
      regex = pattern->text;
    } else if (fmt) {
      if (fmt->type != DocValue::Type::string) return fail(fmt->offset, "'format' must be a string");
      const char* known = format_pattern(fmt->text);
      if (!known) return fail(fmt->offset, "unsupported format '%s'", fmt->text.c_str());
      regex = known;
    }
    if (pattern || fmt) {
      auto start = g_.dfas_.add(regex);
      if (!start.ok()) return fail((pattern ? pattern : fmt)->offset, "%s", start.status().message().c_str());
      node.dfa = start.value();
    }
    return node;
  }

  Result<Node> build_number(const DocValue& schema, bool integer) {
    Node node;
    node.kind = NodeKind::number;
    node.integer = integer;
    for (const char* key : kIntegerKeywords) {
      const DocValue* v = schema.find(key);
      if (!v) continue;
      if (!integer) return fail(v->offset, "'%s' is supported only with type 'integer'", key);
      if (v->type != DocValue::Type::number) return fail(v->offset, "'%s' must be a number", key);
      const std::string_view k = key;
      const bool lower = k == "minimum" || k == "exclusiveMinimum";
      const bool exclusive = k.rfind("exclusive", 0) == 0;
      // The nearest integer bound, clamped to int64 (JSON numbers may be any size).
      double bound = lower ? std::ceil(v->number) : std::floor(v->number);
      if (exclusive && bound == v->number) bound += lower ? 1 : -1;
      const int64_t value = bound <= -9.2e18  ? std::numeric_limits<int64_t>::min()
                            : bound >= 9.2e18 ? std::numeric_limits<int64_t>::max()
                                              : static_cast<int64_t>(bound);
      node.bounded = true;
      if (lower)
        node.minimum = std::max(node.minimum, value);
      else
        node.maximum = std::min(node.maximum, value);
    }
    if (node.minimum > node.maximum) return fail(schema.offset, "no integer lies between minimum and maximum");
    return node;
  }

  Grammar& g_;
  const DocValue& document_;
  std::map<const DocValue*, int32_t> memo_;
};

// ---- Grammar ----

Grammar::Grammar() {
  static std::atomic<uint64_t> next_serial{1};
  serial_ = next_serial++;
  nodes_.resize(7);
  nodes_[kAny].kind = NodeKind::choice;
  nodes_[kAny].options = {kAnyObject, kAnyArray, kAnyString, kAnyNumber, kBoolean, kNull};
  nodes_[kAnyObject].kind = NodeKind::object;
  nodes_[kAnyObject].keys = tries_.new_root();
  nodes_[kAnyObject].additional = kAny;
  nodes_[kAnyArray].kind = NodeKind::array;
  nodes_[kAnyArray].items = kAny;
  nodes_[kAnyString].kind = NodeKind::string;
  nodes_[kAnyNumber].kind = NodeKind::number;
  nodes_[kBoolean].kind = NodeKind::literal;
  nodes_[kBoolean].trie = tries_.new_root();
  tries_.insert(nodes_[kBoolean].trie, "true", 0);
  tries_.insert(nodes_[kBoolean].trie, "false", 1);
  nodes_[kNull].kind = NodeKind::literal;
  nodes_[kNull].trie = tries_.new_root();
  tries_.insert(nodes_[kNull].trie, "null", 0);
}

// Flattens alias/choice nodes into the concrete nodes a value may start as,
// refusing cycles that consume no byte ({"anyOf":[{"$ref":"#"}]}).
Status Grammar::finish() {
  tries_.finish();
  starts_.assign(nodes_.size(), {});
  std::vector<uint8_t> state(nodes_.size(), 0);  // 0 new, 1 in progress, 2 done
  auto visit = [&](auto&& self, int32_t id) -> bool {
    const auto i = static_cast<size_t>(id);
    if (state[i] == 2) return true;
    if (state[i] == 1) return false;
    state[i] = 1;
    std::vector<int32_t> out;
    const Node& n = nodes_[i];
    if (n.kind == NodeKind::alias || n.kind == NodeKind::choice) {
      const std::vector<int32_t> targets = n.kind == NodeKind::alias ? std::vector<int32_t>{n.target} : n.options;
      for (int32_t t : targets) {
        if (!self(self, t)) return false;
        for (int32_t s : starts_[static_cast<size_t>(t)])
          if (std::find(out.begin(), out.end(), s) == out.end()) out.push_back(s);
      }
    } else if (n.kind != NodeKind::nothing) {
      out.push_back(id);
    }
    starts_[i] = std::move(out);
    state[i] = 2;
    return true;
  };
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (!visit(visit, static_cast<int32_t>(i)))
      return error(StatusCode::invalid_argument, "schema refers to itself without consuming input (a $ref cycle)");
  // Nesting needs by fixpoint: containers need 1 + what their required parts need.
  nesting_.assign(nodes_.size(), kNoValue);
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const Node& n = nodes_[i];
      auto need = [&](int32_t id) { return id < 0 ? kNoValue : nesting_[static_cast<size_t>(id)]; };
      uint32_t value = kNoValue;
      switch (n.kind) {
        case NodeKind::nothing:
          break;
        case NodeKind::alias:
          value = need(n.target);
          break;
        case NodeKind::choice:
          for (int32_t o : n.options) value = std::min(value, need(o));
          break;
        case NodeKind::object:
          value = 0;
          for (const Property& p : n.properties)
            if (p.required) value = std::max(value, need(p.node));
          value = std::min(kNoValue, value + 1);
          break;
        case NodeKind::array:
          value = 0;
          for (uint32_t k = 0; k < n.min_items; ++k) {
            value = std::max(value, need(k < n.prefix_items.size() ? n.prefix_items[k] : n.items));
            if (k >= n.prefix_items.size()) break;  // the rest are all `items`
          }
          value = std::min(kNoValue, value + 1);
          break;
        default:
          value = 0;
          break;
      }
      if (value < nesting_[i]) {
        nesting_[i] = value;
        changed = true;
      }
    }
  }
  property_nesting_.assign(nodes_.size(), 0);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    for (const Property& p : nodes_[i].properties)
      property_nesting_[i] = std::max(property_nesting_[i], nesting_[static_cast<size_t>(p.node)]);
    if (nodes_[i].additional >= 0)
      property_nesting_[i] = std::max(property_nesting_[i], nesting_[static_cast<size_t>(nodes_[i].additional)]);
  }
  if (starts_[static_cast<size_t>(root_)].empty() || nesting(root_) >= kNoValue)
    return error(StatusCode::invalid_argument, "schema admits no value");
  if (nesting(root_) > kMaxDepth)
    return error(StatusCode::invalid_argument, "schema needs values nested deeper than %zu levels", kMaxDepth);
  return Status::success();
}

Result<std::shared_ptr<const Grammar>> Grammar::from_json_schema(std::string_view schema) noexcept {
  return guard("Grammar::from_json_schema", [&]() -> Result<std::shared_ptr<const Grammar>> {
    auto document = parse_document(schema);
    if (!document.ok()) return document.status();
    std::shared_ptr<Grammar> grammar(new Grammar());
    SchemaCompiler compiler(*grammar, document.value());
    auto root = compiler.compile(document.value());
    if (!root.ok()) return root.status();
    grammar->root_ = root.value();
    if (Status s = grammar->finish(); !s.ok()) return s;
    return std::shared_ptr<const Grammar>(std::move(grammar));
  });
}

Result<std::shared_ptr<const Grammar>> Grammar::any_json() noexcept {
  return guard("Grammar::any_json", []() -> Result<std::shared_ptr<const Grammar>> {
    std::shared_ptr<Grammar> grammar(new Grammar());
    if (Status s = grammar->finish(); !s.ok()) return s;
    return std::shared_ptr<const Grammar>(std::move(grammar));
  });
}

}  // namespace ossrt::constrain
