// A JSON Schema compiled for generation: an immutable graph of value nodes
// that the byte matcher (matcher.h) walks with a stack.
//
// Generation rules (chosen so that every output validates, and said here
// because a prompt should agree with them):
//  - compact JSON: no whitespace outside strings;
//  - object members come in the schema's `properties` order, optional ones
//    may be skipped; an absent `additionalProperties` means none (as in
//    OpenAI's strict mode); extra members (additionalProperties: schema)
//    follow once no required member is pending, with unescaped keys that are
//    not declared names;
//  - strings with a pattern or format hold printable ASCII without escapes;
//  - oneOf is generated as anyOf (its branches should not overlap);
//  - numbers have at most 18 integer digits and 2 exponent digits (every
//    reader gets an int64 or a finite double);
//  - nesting deeper than kMaxDepth is refused.
#pragma once

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "constrain/regex_dfa.h"
#include "ossrt/status.hpp"

namespace ossrt::constrain {

inline constexpr size_t kMaxDepth = 64;

// Byte tries of literal texts (enum/const values, quoted property names),
// all in one node table so that a node id alone is a position.
class LiteralTries {
 public:
  int32_t new_root();
  // Inserts `text` below `root`; the terminal node gets `value`.
  void insert(int32_t root, std::string_view text, int32_t value);
  // Fills each node's sorted list of the values below it.
  void finish();

  int32_t child(int32_t node, uint8_t byte) const noexcept;
  int32_t value(int32_t node) const noexcept { return nodes_[static_cast<size_t>(node)].value; }
  bool has_children(int32_t node) const noexcept { return !nodes_[static_cast<size_t>(node)].edges.empty(); }
  // Whether some literal below `node` has a value in [lo, hi].
  bool has_value_in(int32_t node, int32_t lo, int32_t hi) const noexcept;
  // Whether some value below `node` in [lo, hi] satisfies `keep`.
  template <class Keep>
  bool has_value_in(int32_t node, int32_t lo, int32_t hi, Keep&& keep) const {
    for (int32_t v : nodes_[static_cast<size_t>(node)].below)
      if (v >= lo && v <= hi && keep(v)) return true;
    return false;
  }

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> edges;
    int32_t value = -1;
    std::vector<int32_t> below;  // sorted values in the subtree
  };
  std::vector<Node> nodes_;
};

enum class NodeKind : uint8_t {
  nothing,  // `false`: no value
  alias,    // $ref (or allOf with one member): see target
  choice,   // anyOf / oneOf / type unions / "any JSON"
  object,
  array,
  string,
  number,   // integer or number
  literal,  // enum / const / true / false / null
};

struct Property {
  std::string name;
  int32_t node = -1;
  bool required = false;
};

struct Node {
  NodeKind kind = NodeKind::nothing;
  int32_t target = -1;           // alias
  std::vector<int32_t> options;  // choice
  // object
  std::vector<Property> properties;
  int32_t keys = -1;        // trie root of the quoted property names (value = index)
  int32_t additional = -1;  // node for extra members; -1: none
  // array
  std::vector<int32_t> prefix_items;
  int32_t items = -1;  // node for items after the prefix; -1: none
  uint32_t min_items = 0;
  uint32_t max_items = std::numeric_limits<uint32_t>::max();
  // string
  uint32_t min_length = 0;
  uint32_t max_length = std::numeric_limits<uint32_t>::max();
  int32_t dfa = -1;  // start state of the pattern/format
  // number
  bool integer = false;
  bool bounded = false;
  int64_t minimum = std::numeric_limits<int64_t>::min();
  int64_t maximum = std::numeric_limits<int64_t>::max();
  // literal
  int32_t trie = -1;
};

class Grammar {
 public:
  // The built-in nodes every grammar starts with.
  static constexpr int32_t kAny = 0, kAnyObject = 1, kAnyArray = 2, kAnyString = 3, kAnyNumber = 4, kBoolean = 5,
                           kNull = 6;

  // Compiles a JSON Schema. Failure: invalid_argument with the byte position
  // ("schema at byte 57: unsupported keyword 'not'", "invalid JSON at byte 3: ...").
  static Result<std::shared_ptr<const Grammar>> from_json_schema(std::string_view schema) noexcept;
  // Any JSON value.
  static Result<std::shared_ptr<const Grammar>> any_json() noexcept;

  int32_t root() const noexcept { return root_; }
  const Node& node(int32_t id) const noexcept { return nodes_[static_cast<size_t>(id)]; }
  // The concrete nodes (object/array/string/number/literal) a value of `id` may be.
  const std::vector<int32_t>& starts(int32_t id) const noexcept { return starts_[static_cast<size_t>(id)]; }
  // Fewest nested containers a value of `id` needs (a scalar: 0; kNoValue
  // when it has none): a value is started only where it fits under kMaxDepth,
  // so that generation never walks into a dead end.
  static constexpr uint32_t kNoValue = 1u << 20;
  uint32_t nesting(int32_t id) const noexcept { return nesting_[static_cast<size_t>(id)]; }
  // The largest nesting of an object's properties (kNoValue included).
  uint32_t property_nesting(int32_t id) const noexcept { return property_nesting_[static_cast<size_t>(id)]; }
  const LiteralTries& tries() const noexcept { return tries_; }
  const DfaPool& dfas() const noexcept { return dfas_; }
  size_t node_count() const noexcept { return nodes_.size(); }
  // Unique per grammar in a process (never reused, unlike an address): keys cached masks.
  uint64_t serial() const noexcept { return serial_; }

 private:
  friend class SchemaCompiler;
  Grammar();
  Status finish();

  std::vector<Node> nodes_;
  std::vector<std::vector<int32_t>> starts_;
  std::vector<uint32_t> nesting_;
  std::vector<uint32_t> property_nesting_;
  LiteralTries tries_;
  DfaPool dfas_;
  int32_t root_ = kAny;
  uint64_t serial_;
};

}  // namespace ossrt::constrain
