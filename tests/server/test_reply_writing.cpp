// Stop strings, parse events to reply deltas, and the Chat Completions /
// Responses JSON and SSE they are written as.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include "chat_completion_writer.h"
#include "ossrt/json.hpp"
#include "reply_builder.h"
#include "responses_writer.h"
#include "sse_format.h"
#include "stop_string_filter.h"

namespace {

using namespace ossrt_server;
using ossrt::JsonValue;
using ossrt::harmony::ParseEvent;

TEST_CASE("stop strings: text passes, a possible start is held, the match ends it") {
  StopStringFilter filter({"STOP", "xy"});
  CHECK(filter.push("hello ") == "hello ");
  CHECK(filter.push("ST") == "");  // could be STOP
  CHECK(filter.push("ART ") == "START ");
  CHECK(filter.push("x") == "");
  CHECK(filter.push("ylophone") == "");
  CHECK(filter.stopped());
  CHECK(filter.push("more") == "");
  CHECK(filter.flush() == "");

  StopStringFilter split({"END"});
  CHECK(split.push("the E") == "the ");
  CHECK(split.push("N") == "");
  CHECK(split.push("D and more") == "");
  CHECK(split.stopped());

  StopStringFilter unmatched({"END"});
  CHECK(unmatched.push("the EN") == "the ");
  CHECK(unmatched.flush() == "EN");
  CHECK_FALSE(unmatched.stopped());

  StopStringFilter none({});
  CHECK(none.push("anything") == "anything");
}

ParseEvent event(ParseEvent::Kind kind, std::optional<std::string> channel, std::optional<std::string> recipient,
                 std::string text = {}) {
  ParseEvent e;
  e.kind = kind;
  e.channel = std::move(channel);
  e.recipient = std::move(recipient);
  e.text = std::move(text);
  return e;
}

std::vector<ReplyDelta> feed_all(ReplyBuilder& builder, const std::vector<ParseEvent>& events) {
  std::vector<ReplyDelta> deltas;
  for (const ParseEvent& e : events) builder.feed(e, deltas);
  builder.finish(deltas);
  return deltas;
}

const std::vector<ParseEvent> kToolTurn = {
    event(ParseEvent::Kind::message_start, "analysis", std::nullopt),
    event(ParseEvent::Kind::content_delta, "analysis", std::nullopt, "Need "),
    event(ParseEvent::Kind::content_delta, "analysis", std::nullopt, "weather."),
    event(ParseEvent::Kind::message_end, "analysis", std::nullopt),
    event(ParseEvent::Kind::message_start, "commentary", "functions.get_weather"),
    event(ParseEvent::Kind::content_delta, "commentary", "functions.get_weather", "{\"city\":"),
    event(ParseEvent::Kind::content_delta, "commentary", "functions.get_weather", "\"Paris\"}"),
    event(ParseEvent::Kind::message_end, "commentary", "functions.get_weather"),
    event(ParseEvent::Kind::tool_call, "commentary", "functions.get_weather", "{\"city\":\"Paris\"}"),
};

TEST_CASE("reply builder: reasoning, function calls, answer text with stop strings") {
  ReplyBuilder builder({}, "r1");
  const std::vector<ReplyDelta> deltas = feed_all(builder, kToolTurn);
  REQUIRE(deltas.size() == 5);
  CHECK(deltas[0].kind == ReplyDelta::Kind::reasoning);
  CHECK(deltas[2].kind == ReplyDelta::Kind::tool_call_start);
  CHECK(deltas[4].kind == ReplyDelta::Kind::tool_call_arguments);
  CHECK(builder.reply().reasoning == "Need weather.");
  REQUIRE(builder.reply().tool_calls.size() == 1);
  CHECK(builder.reply().tool_calls[0].id == "call_r1_0");
  CHECK(builder.reply().tool_calls[0].name == "get_weather");
  CHECK(builder.reply().tool_calls[0].arguments == R"({"city":"Paris"})");
  CHECK(builder.reply().content.empty());

  ReplyBuilder stopping({"sunny"}, "r2");
  feed_all(stopping, {event(ParseEvent::Kind::message_start, "final", std::nullopt),
                      event(ParseEvent::Kind::content_delta, "final", std::nullopt, "It is sun"),
                      event(ParseEvent::Kind::content_delta, "final", std::nullopt, "ny today")});
  CHECK(stopping.stop_matched());
  CHECK(stopping.reply().content == "It is ");

  // A built-in tool's call (no functions. prefix) is not the client's: text.
  ReplyBuilder builtin({}, "r3");
  feed_all(builtin, {event(ParseEvent::Kind::content_delta, "analysis", "browser.search", "q")});
  CHECK(builtin.reply().tool_calls.empty());
  CHECK(builtin.reply().reasoning == "q");
}

TEST_CASE("sse framing") {
  CHECK(sse_data("{}") == "data: {}\n\n");
  CHECK(sse_event("response.created", "{\"a\":1}") == "event: response.created\ndata: {\"a\":1}\n\n");
}

// The JSON of one "data: " line.
JsonValue data_json(const std::string& sse) {
  REQUIRE(sse.starts_with("data: "));
  REQUIRE(sse.ends_with("\n\n"));
  auto json = JsonValue::parse(std::string_view(sse).substr(6, sse.size() - 8));
  REQUIRE(json.ok());
  return json.value();
}

TEST_CASE("chat completion: the whole object and the chunks") {
  ReplyBuilder builder({}, "c1");
  const std::vector<ReplyDelta> deltas = feed_all(builder, kToolTurn);
  const CompletionMeta meta{"chatcmpl-1", 1700000000, "m"};
  GenerationOutcome outcome;
  outcome.finish_reason = FinishReason::tool_calls;
  outcome.prompt_tokens = 10;
  outcome.cached_tokens = 4;
  outcome.completion_tokens = 6;
  outcome.reasoning_tokens = 3;
  CHECK(chat_completion_json(meta, builder.reply(), outcome) ==
        R"({"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m","choices":[{"index":0,)"
        R"("message":{"role":"assistant","content":null,"reasoning_content":"Need weather.","tool_calls":[{"id":)"
        R"("call_c1_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},)"
        R"("logprobs":null,"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":10,"completion_tokens":6,)"
        R"("total_tokens":16,"prompt_tokens_details":{"cached_tokens":4},"completion_tokens_details":)"
        R"({"reasoning_tokens":3}}})");

  CHECK(data_json(chat_role_chunk(meta)).find("choices")->items()[0].find("delta")->dump() ==
        R"({"role":"assistant","content":""})");
  auto delta_of = [&](const ReplyDelta& d) {
    return data_json(chat_delta_chunk(meta, d, builder.reply())).find("choices")->items()[0].find("delta")->dump();
  };
  CHECK(delta_of(deltas[0]) == R"({"reasoning_content":"Need "})");
  CHECK(
      delta_of(deltas[2]) ==
      R"({"tool_calls":[{"index":0,"id":"call_c1_0","type":"function","function":{"name":"get_weather","arguments":""}}]})");
  CHECK(delta_of(deltas[3]) == R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]})");
  CHECK(data_json(chat_finish_chunk(meta, outcome, builder.reply()))
            .find("choices")
            ->items()[0]
            .find("finish_reason")
            ->as_string() == "tool_calls");
  CHECK(data_json(chat_usage_chunk(meta, outcome)).find("usage")->find("total_tokens")->dump() == "16");
  CHECK(chat_done() == "data: [DONE]\n\n");

  // <|call|> without a function call (a built-in tool) and the limits.
  outcome.finish_reason = FinishReason::tool_calls;
  CHECK(std::string(chat_finish_reason(outcome, Reply{})) == "stop");
  outcome.finish_reason = FinishReason::length;
  CHECK(std::string(chat_finish_reason(outcome, Reply{})) == "length");
}

TEST_CASE("responses writer: events in order, items kept for the final object") {
  ReplyBuilder builder({}, "resp_1");
  std::vector<ReplyDelta> deltas = feed_all(builder, kToolTurn);
  ResponsesWriter writer(CompletionMeta{"resp_1", 1700000000, "m"});
  std::string stream = writer.start();
  for (const ReplyDelta& d : deltas) stream += writer.add(d, builder.reply());
  GenerationOutcome outcome;
  outcome.finish_reason = FinishReason::tool_calls;
  outcome.prompt_tokens = 10;
  outcome.completion_tokens = 6;
  stream += writer.finish(outcome);

  std::vector<std::string> types;
  uint64_t expected_sequence = 0;
  for (size_t at = 0; at < stream.size();) {
    const size_t end = stream.find("\n\n", at);
    REQUIRE(end != std::string::npos);
    const std::string block = stream.substr(at, end - at);
    at = end + 2;
    const size_t newline = block.find('\n');
    const std::string name = block.substr(std::string("event: ").size(), newline - 7);
    auto json = JsonValue::parse(block.substr(newline + 7));
    REQUIRE(json.ok());
    CHECK(json.value().find("type")->as_string() == name);
    CHECK(json.value().find("sequence_number")->dump() == std::to_string(expected_sequence++));
    types.push_back(name);
  }
  const std::vector<std::string> expected = {
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.content_part.added",
      "response.reasoning_text.delta",
      "response.reasoning_text.delta",
      "response.reasoning_text.done",
      "response.content_part.done",
      "response.output_item.done",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
  };
  CHECK(types == expected);

  const JsonValue response = writer.response();
  CHECK(response.find("status")->as_string() == "completed");
  const auto& output = response.find("output")->items();
  REQUIRE(output.size() == 2);
  CHECK(output[0].find("type")->as_string() == "reasoning");
  CHECK(output[0].find("content")->items()[0].find("text")->as_string() == "Need weather.");
  CHECK(output[1].find("type")->as_string() == "function_call");
  CHECK(output[1].find("call_id")->as_string() == "call_resp_1_0");
  CHECK(output[1].find("arguments")->as_string() == R"({"city":"Paris"})");
  CHECK(response.find("usage")->find("total_tokens")->dump() == "16");

  CHECK(response.find("text") == nullptr);  // no settings given, none repeated

  // The request's settings, in every response object (streamed ones too).
  ResponsesWriter cut(CompletionMeta{"resp_2", 0, "m"}, JsonValue::object({{"max_output_tokens", JsonValue::integer(3)},
                                                                           {"top_p", JsonValue::integer(1)}}));
  CHECK(cut.start().find(R"("max_output_tokens":3,"top_p":1,"usage":null)") != std::string::npos);
  outcome.finish_reason = FinishReason::length;
  cut.finish(outcome);
  CHECK(cut.response().find("status")->as_string() == "incomplete");
  CHECK(cut.response().find("incomplete_details")->find("reason")->as_string() == "max_output_tokens");
  CHECK(cut.response().find("max_output_tokens")->dump() == "3");
}

}  // namespace
