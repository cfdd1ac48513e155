// ChatConstraint: the turn's grammars (response format, strict tools) behind
// a HarmonyScope, and the schema checks that compile them the same way.
#include "ossrt/chat_constraint.hpp"

#include <optional>

#include "constrain/compiled_cache.h"
#include "constrain/harmony_scope.h"
#include "ossrt/chat.hpp"
#include "util/errors.h"

namespace ossrt {
namespace {

using namespace harmony;

const ToolDescription* find_function_tool(const Conversation& conversation, std::string_view name) {
  for (const Message& message : conversation)
    for (const Content& item : message.content)
      if (const auto* developer = std::get_if<DeveloperContent>(&item); developer && developer->tools) {
        auto functions = developer->tools->find("functions");
        if (functions == developer->tools->end()) continue;
        for (const ToolDescription& tool : functions->second.tools)
          if (tool.name == name) return &tool;
      }
  return nullptr;
}

// A schema's grammar (cached by its text); a failure names what the schema is for.
Result<std::shared_ptr<const constrain::Grammar>> labelled_grammar(std::string_view schema, const std::string& label) {
  auto grammar = constrain::cached_grammar(schema);
  if (!grammar.ok()) return Status(grammar.status().code(), label + ": " + grammar.status().message());
  return grammar;
}

Result<std::shared_ptr<const constrain::Grammar>> response_format_grammar(std::string_view schema) {
  return labelled_grammar(schema, "response_format");
}

Result<std::shared_ptr<const constrain::Grammar>> strict_tool_grammar(const ToolDescription& tool) {
  // A tool without parameters takes an empty object.
  const std::string schema = tool.parameters ? tool.parameters->dump() : std::string("{\"type\":\"object\"}");
  return labelled_grammar(schema, "strict tool '" + tool.name + "' parameters");
}

// The grammars of the turn's response format and strict tools.
Result<constrain::ScopeGrammars> scope_grammars(const Conversation& conversation,
                                                std::string_view response_format_schema,
                                                std::span<const std::string> strict_tools) {
  constrain::ScopeGrammars grammars;
  if (!response_format_schema.empty()) {
    auto grammar = response_format_grammar(response_format_schema);
    if (!grammar.ok()) return grammar.status();
    grammars.response_format = grammar.value();
  }
  for (const std::string& name : strict_tools) {
    const ToolDescription* tool = find_function_tool(conversation, name);
    if (tool == nullptr)
      return error(StatusCode::invalid_argument,
                   "strict tool '%s' is not a function tool of the conversation's developer message", name.c_str());
    auto grammar = strict_tool_grammar(*tool);
    if (!grammar.ok()) return grammar.status();
    grammars.strict_tools["functions." + name] = grammar.value();
  }
  return grammars;
}

}  // namespace

struct ChatConstraint::Impl {
  std::optional<constrain::HarmonyScope> scope;  // none: nothing to constrain
  size_t constrained_tokens = 0;
};

ChatConstraint::ChatConstraint(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
ChatConstraint::ChatConstraint(ChatConstraint&&) noexcept = default;
ChatConstraint& ChatConstraint::operator=(ChatConstraint&&) noexcept = default;
ChatConstraint::~ChatConstraint() = default;

Result<ChatConstraint> ChatConstraint::create(const Renderer& renderer, const Conversation& conversation,
                                              std::string_view response_format_schema,
                                              std::span<const std::string> strict_tools) noexcept {
  return guard("ChatConstraint::create", [&]() -> Result<ChatConstraint> {
    auto grammars = scope_grammars(conversation, response_format_schema, strict_tools);
    if (!grammars.ok()) return grammars.status();
    auto impl = std::make_unique<Impl>();
    if (!grammars.value().empty()) {
      // Only a constraint with grammars needs the vocabulary (a trie built
      // once per tokenizer other than the built-in one).
      auto vocabulary = constrain::cached_vocabulary(renderer.tokenizer());
      if (!vocabulary.ok()) return vocabulary.status();
      const Tokenizer& tokenizer = *renderer.tokenizer();
      impl->scope.emplace(vocabulary.value(), std::move(grammars).value(), tokenizer.special_id(SpecialToken::return_),
                          tokenizer.special_id(SpecialToken::call));
    }
    return ChatConstraint(std::move(impl));
  });
}

// impl_ is null only in a moved-from constraint: it then constrains nothing.
bool ChatConstraint::enabled() const noexcept {
  return impl_ && impl_->scope;
}

bool ChatConstraint::constrained() const noexcept {
  return enabled() && impl_->scope->constrained();
}

Result<std::span<const float>> ChatConstraint::masked(std::span<const float> logits) noexcept {
  if (!constrained()) return logits;
  return guard("ChatConstraint::masked", [&]() -> Result<std::span<const float>> {
    std::span<const float> out = impl_->scope->masked(logits);
    ++impl_->constrained_tokens;
    return out;
  });
}

Status ChatConstraint::observe(TokenId token, ParserState parser_state, std::span<const ParseEvent> events) noexcept {
  if (!enabled()) return {};
  return guard("ChatConstraint::observe", [&]() -> Status {
    impl_->scope->observe(token, parser_state, events);
    return {};
  });
}

size_t ChatConstraint::constrained_tokens() const noexcept {
  return impl_ ? impl_->constrained_tokens : 0;
}

Status check_response_format(std::string_view schema) noexcept {
  return guard("check_response_format", [&]() -> Status { return response_format_grammar(schema).status(); });
}

Status check_strict_tool(const ToolDescription& tool) noexcept {
  return guard("check_strict_tool", [&]() -> Status { return strict_tool_grammar(tool).status(); });
}

}  // namespace ossrt
