#include "chat_completion_writer.h"

#include <vector>

#include "json_shorthand.h"
#include "ossrt/json.hpp"
#include "sse_format.h"

namespace ossrt_server {
namespace {

using ossrt::JsonMember;
using ossrt::JsonValue;

JsonValue usage_json(const GenerationOutcome& outcome) {
  return JsonValue::object({
      {"prompt_tokens", num(outcome.prompt_tokens)},
      {"completion_tokens", num(outcome.completion_tokens)},
      {"total_tokens", num(outcome.prompt_tokens + outcome.completion_tokens)},
      {"prompt_tokens_details", JsonValue::object({{"cached_tokens", num(outcome.cached_tokens)}})},
      {"completion_tokens_details", JsonValue::object({{"reasoning_tokens", num(outcome.reasoning_tokens)}})},
  });
}

JsonValue tool_call_json(const ToolCallReply& call, std::optional<size_t> index) {
  std::vector<JsonMember> members;
  if (index) members.push_back({"index", num(*index)});
  members.push_back({"id", str(call.id)});
  members.push_back({"type", str("function")});
  members.push_back({"function", JsonValue::object({{"name", str(call.name)}, {"arguments", str(call.arguments)}})});
  return JsonValue::object(std::move(members));
}

// The members every object of one completion starts with.
std::vector<JsonMember> head(const CompletionMeta& meta, const char* object) {
  return {{"id", str(meta.id)},
          {"object", str(object)},
          {"created", JsonValue::integer(meta.created)},
          {"model", str(meta.model)}};
}

std::string chunk(const CompletionMeta& meta, JsonValue delta, JsonValue finish_reason) {
  std::vector<JsonMember> members = head(meta, "chat.completion.chunk");
  members.push_back({"choices", JsonValue::array({JsonValue::object({{"index", num(0)},
                                                                     {"delta", std::move(delta)},
                                                                     {"logprobs", JsonValue()},
                                                                     {"finish_reason", std::move(finish_reason)}})})});
  return sse_data(JsonValue::object(std::move(members)).dump());
}

}  // namespace

const char* chat_finish_reason(const GenerationOutcome& outcome, const Reply& reply) {
  if (outcome.finish_reason == FinishReason::tool_calls && !reply.tool_calls.empty()) return "tool_calls";
  if (outcome.finish_reason == FinishReason::length) return "length";
  return "stop";
}

std::string chat_completion_json(const CompletionMeta& meta, const Reply& reply, const GenerationOutcome& outcome) {
  std::vector<JsonMember> message{
      {"role", str("assistant")},
      {"content", reply.content.empty() && !reply.tool_calls.empty() ? JsonValue() : str(reply.content)}};
  if (!reply.reasoning.empty()) message.push_back({"reasoning_content", str(reply.reasoning)});
  if (!reply.tool_calls.empty()) {
    std::vector<JsonValue> calls;
    for (const ToolCallReply& call : reply.tool_calls) calls.push_back(tool_call_json(call, std::nullopt));
    message.push_back({"tool_calls", JsonValue::array(std::move(calls))});
  }
  std::vector<JsonMember> members = head(meta, "chat.completion");
  members.push_back({"choices", JsonValue::array({JsonValue::object({
                                    {"index", num(0)},
                                    {"message", JsonValue::object(std::move(message))},
                                    {"logprobs", JsonValue()},
                                    {"finish_reason", str(chat_finish_reason(outcome, reply))},
                                })})});
  members.push_back({"usage", usage_json(outcome)});
  return JsonValue::object(std::move(members)).dump();
}

std::string chat_role_chunk(const CompletionMeta& meta) {
  return chunk(meta, JsonValue::object({{"role", str("assistant")}, {"content", str("")}}), JsonValue());
}

std::string chat_delta_chunk(const CompletionMeta& meta, const ReplyDelta& delta, const Reply& reply) {
  switch (delta.kind) {
    case ReplyDelta::Kind::reasoning:
      return chunk(meta, JsonValue::object({{"reasoning_content", str(delta.text)}}), JsonValue());
    case ReplyDelta::Kind::content:
      return chunk(meta, JsonValue::object({{"content", str(delta.text)}}), JsonValue());
    case ReplyDelta::Kind::tool_call_start: {
      ToolCallReply call = reply.tool_calls[delta.tool_index];
      call.arguments.clear();  // they follow in their own deltas
      return chunk(meta,
                   JsonValue::object({{"tool_calls", JsonValue::array({tool_call_json(call, delta.tool_index)})}}),
                   JsonValue());
    }
    case ReplyDelta::Kind::tool_call_arguments:
      return chunk(meta,
                   JsonValue::object(
                       {{"tool_calls", JsonValue::array({JsonValue::object(
                                           {{"index", num(delta.tool_index)},
                                            {"function", JsonValue::object({{"arguments", str(delta.text)}})}})})}}),
                   JsonValue());
  }
  return {};
}

std::string chat_finish_chunk(const CompletionMeta& meta, const GenerationOutcome& outcome, const Reply& reply) {
  return chunk(meta, JsonValue::object({}), str(chat_finish_reason(outcome, reply)));
}

std::string chat_usage_chunk(const CompletionMeta& meta, const GenerationOutcome& outcome) {
  std::vector<JsonMember> members = head(meta, "chat.completion.chunk");
  members.push_back({"choices", JsonValue::array({})});
  members.push_back({"usage", usage_json(outcome)});
  return sse_data(JsonValue::object(std::move(members)).dump());
}

std::string chat_done() {
  return sse_data("[DONE]");
}

}  // namespace ossrt_server
