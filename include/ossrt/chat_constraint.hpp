// ChatConstraint: structured output for any harmony decode loop, token by
// token. It is what chat_turn applies for ChatOptions::response_format_schema
// and ChatOptions::strict_tools, for loops that sample themselves (a server
// that decodes many conversations in one batch, say).
//
// The loop, per sampled token:
//   if (constraint.constrained()) logits = constraint.masked(logits).value();
//   token = sample(logits);
//   parser.push(token, &events);                    // a harmony::StreamParser
//   constraint.observe(token, parser.state(), events);
// (each step checked: masked() and observe() fail only for memory).
//
// What is constrained (docs/structured-output.md): the final answer (from
// <|channel|>final<|message|> to the end of that message) follows the
// response format and may end with <|return|> exactly when its JSON is
// complete; a call to a strict tool follows the tool's parameters schema and
// may end with <|call|> exactly when complete. Headers, the analysis channel
// and every other message are free: their logits are not touched. The prompt
// should show the model the format (render_chat_prompt in chat.hpp).
//
// Thread rules: one loop at a time per constraint; it may be created on one
// thread and used on another. Compiled grammars and vocabulary tries are
// shared through process-wide caches (thread-safe).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "ossrt/harmony.hpp"
#include "ossrt/status.hpp"
#include "ossrt/tokenizer.hpp"

namespace ossrt {

class ChatConstraint {
 public:
  // A constraint for one assistant turn of `conversation` (not kept: only its
  // strict tools' parameters are read) rendered by `renderer`:
  // `response_format_schema` ("" = the final answer is free) and
  // `strict_tools`, function tool names of the conversation's developer
  // message ("get_weather"; a tool without parameters takes "{}").
  // Success: a constraint, enabled() when it constrains anything. Failure:
  // invalid_argument (`response_format_schema` unsupported or not JSON:
  // "response_format: schema at byte N: ..."; a strict tool that is not a
  // function tool of the conversation, or whose parameters are not a
  // supported schema: "strict tool 'NAME' parameters: schema at byte N:
  // ..."), out_of_memory.
  static Result<ChatConstraint> create(const harmony::Renderer& renderer, const harmony::Conversation& conversation,
                                       std::string_view response_format_schema,
                                       std::span<const std::string> strict_tools) noexcept;

  ChatConstraint(ChatConstraint&&) noexcept;
  ChatConstraint& operator=(ChatConstraint&&) noexcept;
  ~ChatConstraint();

  // Whether there is a response format or a strict tool at all (otherwise
  // observe() does nothing and constrained() is always false).
  bool enabled() const noexcept;
  // Whether the next token is constrained: call masked() before sampling it.
  bool constrained() const noexcept;
  // `logits` (one per vocabulary id of the model) with every id the
  // constraint refuses set to -inf, ids beyond the tokenizer's vocabulary
  // included, in storage the constraint owns (valid until the next call).
  // Counts one constrained token. When not constrained(): `logits` itself,
  // nothing counted. Failure: out_of_memory.
  Result<std::span<const float>> masked(std::span<const float> logits) noexcept;
  // Follows the token just sampled and the events its StreamParser::push
  // produced (the parser's state after the push): a constrained message
  // starts, advances or ends. A token the constraint refused (only a loop
  // that sampled outside masked() can produce one) frees the rest of that
  // message. Failure: out_of_memory (opening a constrained message).
  Status observe(TokenId token, harmony::ParserState parser_state,
                 std::span<const harmony::ParseEvent> events) noexcept;
  // Tokens sampled under a mask so far (masked() calls while constrained).
  size_t constrained_tokens() const noexcept;

 private:
  struct Impl;
  explicit ChatConstraint(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ossrt
