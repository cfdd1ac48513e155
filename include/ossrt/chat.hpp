// Harmony-aware chat generation: one assistant turn over a Session.
//
// chat_turn renders the conversation for completion (the reasoning effort is
// the system message's: harmony::set_reasoning_effort), reuses the session's
// cached prefix (Session::sync_prefix: a multi-turn chat does not prefill its
// history again), samples with the lenient harmony parser attached and
// streams its events, stops on harmony's assistant-action stop set
// (<|return|>, <|call|>; never on <|end|>), and appends the assistant
// messages to the conversation as history.
//
// The prompt (render_chat_prompt) and the constraint (ChatConstraint,
// chat_constraint.hpp) are public, so a loop that decodes itself (a batched
// server) renders and constrains exactly as chat_turn does.
//
// Thread rules: as Session: one thread at a time per session; Session::cancel
// from any thread ends the turn with FinishReason::cancelled.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ossrt/harmony.hpp"
#include "ossrt/sampler.hpp"
#include "ossrt/session.hpp"

namespace ossrt {

enum class FinishReason {
  stop,              // <|return|> (the final answer ended) or an extra stop id
  tool_call,         // <|call|>: the last message is a tool call to answer
  length,            // max_tokens generated
  reasoning_budget,  // the analysis channel used up reasoning_budget tokens
  cancelled,         // Session::cancel or on_event returned false
  context_full,      // the session's context length is reached
};
const char* finish_reason_name(FinishReason reason) noexcept;  // "stop", "tool_call", ...

struct ChatOptions {
  size_t max_tokens = 4096;
  // Tokens the model may spend on the analysis channel; 0 = unlimited.
  size_t reasoning_budget = 0;
  std::vector<TokenId> extra_stop_tokens;
  harmony::RenderConversationConfig render;  // auto_drop_analysis: harmony's rule by default
  // Structured output: a JSON schema the final answer must match; "" = none
  // (the turn is then exactly what it is without this field). Compiled once
  // per distinct text (a process-wide cache), rendered into the developer
  // message under "# Response Formats" / "## {response_format_name}" (a
  // developer message is added after the system message when there is
  // none, and one that lists a format of that name already is left as it
  // is; the conversation itself is not changed), and enforced from
  // <|channel|>final<|message|> to the end of that message: the analysis
  // channel, headers and other messages stay free, and <|return|> is allowed
  // exactly when the JSON is complete. See docs/structured-output.md for the
  // supported schema subset.
  std::string response_format_schema;
  std::string response_format_name = "response";
  // Rendered as "// {description}" above the schema; none by default.
  std::optional<std::string> response_format_description;
  // Function tools (names in the conversation's developer "functions"
  // namespace, e.g. "get_weather") whose call arguments are constrained to
  // their parameters schema (none: "{}"); <|call|> is allowed exactly when
  // the arguments are complete.
  std::vector<std::string> strict_tools;
  // Called on the session's thread for each parser event (message start,
  // content delta per channel, message end, tool call, anomaly); return false
  // to end the turn (FinishReason::cancelled). Must not call into the session.
  std::function<bool(const harmony::ParseEvent&)> on_event;
};

struct ChatTurn {
  FinishReason finish_reason = FinishReason::stop;
  size_t prompt_tokens = 0;                // the rendered prompt
  size_t reused_tokens = 0;                // of those, already in the session's cache
  size_t generated_tokens = 0;             // sampled this turn
  size_t reasoning_tokens = 0;             // of those, on the analysis channel
  std::vector<harmony::Message> messages;  // the assistant messages appended to the conversation
  // Set when finish_reason is tool_call and the last message names a
  // recipient: the call to answer, with
  // harmony::add_tool_result(conversation, tool_call->recipient, output).
  std::optional<harmony::ToolCall> tool_call;
  std::vector<harmony::ParseEvent> anomalies;  // what lenient parsing recovered from
  size_t constrained_tokens = 0;               // sampled under a response-format or strict-tool mask
};

// Runs one assistant turn and appends its messages to `conversation` (a
// message cut short by length, budget or cancel is kept as it stands).
// Failure: invalid_argument (the conversation cannot be rendered, the model's
// vocabulary cannot hold harmony's ids, response_format_schema is not a
// supported schema: "response_format: schema at byte N: ...", a strict tool
// that is not a function tool of the conversation or whose parameters are
// not a supported schema), invalid_token, out_of_memory,
// internal; the conversation is then unchanged. A cancel or a full context is
// not a failure: the turn ends with that finish reason.
Result<ChatTurn> chat_turn(Session& session, const harmony::Renderer& renderer, harmony::Conversation& conversation,
                           const Sampler& sampler, const ChatOptions& options = {}) noexcept;

// Compiles `schema` as chat_turn compiles ChatOptions::response_format_schema
// (and keeps it in the same cache), so that a caller can refuse a bad schema
// before any turn. Success: OK. Failure: invalid_argument "response_format:
// schema at byte N: ..." (unsupported keyword, not JSON), out_of_memory.
// Any thread.
Status check_response_format(std::string_view schema) noexcept;

// Compiles `tool`'s parameters schema as chat_turn does for a strict tool
// (none: "{}"), for the same early refusal. Success: OK. Failure:
// invalid_argument "strict tool 'NAME' parameters: schema at byte N: ...",
// out_of_memory. Any thread.
Status check_strict_tool(const harmony::ToolDescription& tool) noexcept;

// `conversation` as a turn with `format` shows it to the model: the format
// appended to the first developer message's response formats (a developer
// message is inserted after the leading system messages when there is
// none; a developer message that lists a format of that name already is
// left as it is). Success: the new conversation (the argument is not
// changed). Failure: out_of_memory. Any thread.
Result<harmony::Conversation> with_response_format(const harmony::Conversation& conversation,
                                                   harmony::ResponseFormat format) noexcept;

// The prompt chat_turn renders for `conversation` under `options`
// (options.render; with_response_format of the response format's name,
// description and schema when response_format_schema is set), for a loop
// that decodes itself (see chat_constraint.hpp). Success: the ids, ending
// with <|start|>assistant. Failure: invalid_argument (the conversation cannot
// be rendered; response_format_schema is not JSON: "response_format: ..."),
// out_of_memory. Any thread.
Result<std::vector<TokenId>> render_chat_prompt(const harmony::Renderer& renderer,
                                                const harmony::Conversation& conversation,
                                                const ChatOptions& options) noexcept;

}  // namespace ossrt
