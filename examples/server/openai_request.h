// OpenAI request bodies (Chat Completions and the Responses API) turned into
// a harmony conversation and generation settings. Everything a client can
// get wrong (malformed JSON, wrong types, unknown roles, a bad tool schema,
// unsupported options) is an ApiError naming the parameter, never a crash.
//
// Thread rules: pure functions; safe from any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ossrt/harmony.hpp"
#include "ossrt/json.hpp"
#include "ossrt/sampler.hpp"

namespace ossrt_server {

// An OpenAI-style error: {"error": {"message", "type", "param", "code"}}.
struct ApiError {
  int http_status = 400;
  std::string message;
  std::string param;  // the offending parameter ("messages[2].role"); empty if none
  std::string type = "invalid_request_error";
};

struct GenerationRequest {
  ossrt::harmony::Conversation conversation;  // system (with the effort), developer, then the turns
  ossrt::SamplerOptions sampling;             // temperature, top_p, seed
  std::optional<size_t> max_tokens;           // max_tokens / max_completion_tokens / max_output_tokens
  std::vector<std::string> stop;              // stop strings, matched in the final answer
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage (chat streams)
  std::string model;
  // Structured output (ossrt::ChatConstraint): the schema the final answer
  // follows ("" = free; compiled when parsed, so a bad one is refused here),
  // its name and description as the developer message shows them, and the
  // function tools declared "strict": true (their parameters compiled too).
  std::string response_format_schema;
  std::string response_format_name;
  std::optional<std::string> response_format_description;
  std::vector<std::string> strict_tools;
  // Responses only: the request's settings as a Response object repeats them
  // (instructions, max_output_tokens, temperature, top_p, tools, tool_choice,
  // parallel_tool_calls, reasoning, text, metadata), defaults where absent.
  ossrt::JsonValue response_echo;
};

using ParsedRequest = std::variant<GenerationRequest, ApiError>;

// POST /v1/chat/completions. Roles system and developer become the developer
// message's instructions; assistant messages take `reasoning_content` (the
// analysis channel), `content` (final) and `tool_calls` (commentary calls to
// functions.NAME); tool messages answer the call whose id they name.
// `response_format`: text, json_object (any JSON object) or json_schema
// {name, schema, description?, strict?} (always enforced); function tools
// with "strict": true get constrained arguments.
ParsedRequest parse_chat_completion_request(std::string_view body);

// POST /v1/responses: `input` as a string or a list of message,
// function_call, function_call_output and reasoning items; `instructions`;
// `tools` of type function (and their `strict`); `reasoning.effort`;
// `max_output_tokens`; `text.format` as chat's response_format, its
// json_schema members flat ({type, name, schema, description?, strict?}).
ParsedRequest parse_responses_request(std::string_view body);

}  // namespace ossrt_server
