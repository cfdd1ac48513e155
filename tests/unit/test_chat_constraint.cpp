// ChatConstraint and the public prompt functions: a decode loop written by
// hand with them is chat_turn (same tokens), refusals say what chat_turn
// says, and the mask opens and closes where harmony's final answer does.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "ossrt/chat.hpp"
#include "ossrt/chat_constraint.hpp"
#include "test_chat_support.hpp"
#include "weather_script.h"

using namespace ossrt;
using namespace ossrt::harmony;
using namespace chat_test;

namespace {

// The script writes {"city":"Paris"}: this schema refuses Paris and wants days.
const ToolDescription& get_weather() {
  static const ToolDescription tool{
      "get_weather", "Weather for a city.",
      JsonValue::parse(R"({"type":"object","properties":{"city":{"enum":["Rome","Oslo"]},)"
                       R"("days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"]})")
          .value()};
  return tool;
}

const char* const kForecast =
    R"({"type":"object","properties":{"summary":{"type":"string","maxLength":24},"sunny":{"type":"boolean"}},)"
    R"("required":["summary","sunny"]})";

Conversation weather_question() {
  return {Message::from_role_and_content(Role::system, SystemContent::defaults()),
          Message::from_role_and_content(Role::developer, DeveloperContent{}.with_function_tools({get_weather()})),
          Message::from_role_and_content(Role::user, "What is the weather in Paris?")};
}

struct LoopResult {
  std::vector<TokenId> generated;
  size_t constrained_tokens = 0;
  Conversation messages;
};

// chat_turn's loop by hand on the public API: render, prefill, then per
// token mask, sample, append, parse, observe; ends on <|return|> / <|call|>.
LoopResult manual_turn(Session& session, const Conversation& conversation, const Sampler& sampler,
                       const ChatOptions& options) {
  auto prompt = render_chat_prompt(renderer(), conversation, options);
  REQUIRE(prompt.ok());
  REQUIRE(session.sync_prefix(prompt.value()).ok());
  auto constraint =
      ChatConstraint::create(renderer(), conversation, options.response_format_schema, options.strict_tools);
  REQUIRE(constraint.ok());
  StreamParser parser(renderer().tokenizer(), Role::assistant, ParseMode::lenient);
  const std::vector<TokenId> stops = renderer().stop_tokens_for_assistant_actions();
  LoopResult result;
  while (result.generated.size() < options.max_tokens) {
    auto logits = constraint.value().masked(session.logits());
    REQUIRE(logits.ok());
    auto next = sampler.sample(logits.value(), session.tokens(), session.tokens().size());
    REQUIRE(next.ok());
    const TokenId one[1] = {next.value()};
    REQUIRE(session.append(one).ok());
    result.generated.push_back(one[0]);
    std::vector<ParseEvent> events;
    REQUIRE(parser.push(one[0], &events).ok());
    REQUIRE(constraint.value().observe(one[0], parser.state(), events).ok());
    if (std::find(stops.begin(), stops.end(), one[0]) != stops.end()) break;
  }
  REQUIRE(parser.finish(nullptr).ok());
  result.constrained_tokens = constraint.value().constrained_tokens();
  result.messages = parser.take_messages();
  return result;
}

std::unique_ptr<Session> weather_session() {
  auto session = Session::create(weather_model());
  REQUIRE(session.ok());
  return std::move(session.value());
}

}  // namespace

TEST_CASE("a hand-written loop with ChatConstraint samples what a constrained chat_turn samples") {
  ChatOptions options;
  options.max_tokens = 400;
  options.strict_tools = {"get_weather"};
  options.response_format_schema = kForecast;
  options.response_format_name = "forecast";
  options.response_format_description = "The weather, briefly";
  for (uint64_t seed : {1u, 2u, 3u}) {
    CAPTURE(seed);
    const Sampler sampler = sampler_at(seed, 1.5f);
    auto chat_session = weather_session();
    auto manual_session = weather_session();
    Conversation chat = weather_question();
    Conversation manual = weather_question();
    // Two turns: the strict call, then the final answer after its result.
    for (int turn_index = 0; turn_index < 2; ++turn_index) {
      CAPTURE(turn_index);
      auto turn = chat_turn(*chat_session, renderer(), chat, sampler, options);
      REQUIRE(turn.ok());
      LoopResult by_hand = manual_turn(*manual_session, manual, sampler, options);
      const std::vector<TokenId> chat_generated(
          chat_session->tokens().begin() + static_cast<std::ptrdiff_t>(turn.value().prompt_tokens),
          chat_session->tokens().end());
      // chat_turn appends the stop token too; so did the loop.
      CHECK(chat_generated == by_hand.generated);
      CHECK(turn.value().generated_tokens == by_hand.generated.size());
      CHECK(turn.value().constrained_tokens == by_hand.constrained_tokens);
      CHECK(by_hand.constrained_tokens > 0);
      REQUIRE(by_hand.messages.size() == turn.value().messages.size());
      manual.insert(manual.end(), by_hand.messages.begin(), by_hand.messages.end());
      if (turn_index == 0) {
        REQUIRE(turn.value().tool_call.has_value());
        add_tool_result(chat, turn.value().tool_call->recipient, "{\"forecast\":\"sunny\"}");
        add_tool_result(manual, turn.value().tool_call->recipient, "{\"forecast\":\"sunny\"}");
      } else {
        CHECK(turn.value().finish_reason == FinishReason::stop);
        CHECK(JsonValue::parse(turn.value().messages.back().text()).ok());
      }
    }
  }
}

TEST_CASE("refusals say what chat_turn says; nothing to constrain is a constraint that never masks") {
  const Conversation conversation = weather_question();
  auto bad_schema = ChatConstraint::create(renderer(), conversation, R"({"type":"strin"})", {});
  REQUIRE_FALSE(bad_schema.ok());
  CHECK(bad_schema.status().code() == StatusCode::invalid_argument);
  CHECK(bad_schema.status().message().rfind("response_format: schema at byte ", 0) == 0);
  CHECK(bad_schema.status().message() == check_response_format(R"({"type":"strin"})").message());

  auto session = weather_session();
  Conversation copy = conversation;
  ChatOptions options;
  options.response_format_schema = R"({"type":"strin"})";
  auto turn = chat_turn(*session, renderer(), copy, sampler_at(1, 1.0f), options);
  REQUIRE_FALSE(turn.ok());
  CHECK(turn.status().message() == bad_schema.status().message());

  const std::vector<std::string> missing = {"get_time"};
  auto not_a_tool = ChatConstraint::create(renderer(), conversation, "", missing);
  REQUIRE_FALSE(not_a_tool.ok());
  CHECK(not_a_tool.status().message().find("strict tool 'get_time' is not a function tool") != std::string::npos);

  ToolDescription odd{
      "odd", "Bad parameters.",
      JsonValue::parse(R"({"type":"object","properties":{"ip":{"type":"string","format":"ipv4"}}})").value()};
  Conversation with_odd = conversation;
  with_odd[1] = Message::from_role_and_content(Role::developer, DeveloperContent{}.with_function_tools({odd}));
  const std::vector<std::string> strict_odd = {"odd"};
  auto bad_tool = ChatConstraint::create(renderer(), with_odd, "", strict_odd);
  REQUIRE_FALSE(bad_tool.ok());
  CHECK(bad_tool.status().message().rfind("strict tool 'odd' parameters: schema at byte ", 0) == 0);
  CHECK(bad_tool.status().message().find("ipv4") != std::string::npos);
  CHECK(check_strict_tool(odd).message() == bad_tool.status().message());
  CHECK(check_strict_tool(get_weather()).ok());
  CHECK(check_strict_tool(ToolDescription{"bare", "No parameters.", std::nullopt}).ok());

  auto none = ChatConstraint::create(renderer(), conversation, "", {});
  REQUIRE(none.ok());
  CHECK_FALSE(none.value().enabled());
  const std::vector<float> logits(renderer().tokenizer()->vocab_size(), 0.5f);
  auto same = none.value().masked(logits);
  REQUIRE(same.ok());
  CHECK(same.value().data() == logits.data());
  CHECK(none.value().constrained_tokens() == 0);
}

TEST_CASE("the mask opens at <|channel|>final<|message|>, allows <|return|> once the JSON is complete, then closes") {
  const std::vector<std::string> no_tools;
  auto created = ChatConstraint::create(renderer(), weather_question(), R"({"type":"object"})", no_tools);
  REQUIRE(created.ok());
  ChatConstraint constraint = std::move(created).value();
  CHECK(constraint.enabled());
  StreamParser parser(renderer().tokenizer(), Role::assistant, ParseMode::lenient);
  const TokenId return_id = renderer().tokenizer()->special_id(SpecialToken::return_);
  const std::vector<float> logits(renderer().tokenizer()->vocab_size(), 1.0f);
  auto feed = [&](const std::string& text) {
    for (TokenId token : encode_all(text)) {
      std::vector<ParseEvent> events;
      REQUIRE(parser.push(token, &events).ok());
      REQUIRE(constraint.observe(token, parser.state(), events).ok());
    }
  };
  auto allowed = [&](const std::string& text) {
    const std::vector<TokenId> ids = encode_all(text);
    REQUIRE(ids.size() == 1);
    auto masked = constraint.masked(logits);
    REQUIRE(masked.ok());
    return std::isfinite(masked.value()[static_cast<size_t>(ids[0])]);
  };
  // Analysis is free.
  feed("<|channel|>analysis<|message|>Thinking");
  CHECK_FALSE(constraint.constrained());
  feed("<|end|><|start|>assistant<|channel|>final<|message|>");
  REQUIRE(constraint.constrained());
  CHECK(allowed("{"));
  CHECK_FALSE(allowed("Hello"));
  CHECK_FALSE(allowed("<|return|>"));
  CHECK_FALSE(allowed("<|end|>"));
  feed("{");
  CHECK_FALSE(allowed("<|return|>"));
  feed("}");
  CHECK(allowed("<|return|>"));
  CHECK_FALSE(allowed(","));
  CHECK(constraint.constrained_tokens() == 7);
  auto masked = constraint.masked(logits);
  REQUIRE(masked.ok());
  size_t finite = 0;
  for (float value : masked.value()) finite += std::isfinite(value);
  CHECK(finite == 1);  // only <|return|> is left
  CHECK(masked.value()[static_cast<size_t>(return_id)] == 1.0f);
  feed("<|return|>");
  CHECK_FALSE(constraint.constrained());

  // A moved-from constraint constrains nothing.
  ChatConstraint moved = std::move(constraint);
  CHECK(moved.enabled());
  CHECK_FALSE(constraint.enabled());  // NOLINT(bugprone-use-after-move): the documented moved-from state
  CHECK(constraint.constrained_tokens() == 0);
}

TEST_CASE("render_chat_prompt renders the format (name, description) where chat_turn does") {
  ChatOptions options;
  options.response_format_schema = R"({"type": "object"})";
  options.response_format_name = "answer";
  options.response_format_description = "The answer object";
  const Conversation conversation = {Message::from_role_and_content(Role::user, "Hi")};
  auto prompt = render_chat_prompt(renderer(), conversation, options);
  REQUIRE(prompt.ok());
  CHECK(prompt.value() == encode_all("<|start|>developer<|message|># Response Formats\n\n## answer\n\n"
                                     "// The answer object\n{\"type\":\"object\"}<|end|>"
                                     "<|start|>user<|message|>Hi<|end|><|start|>assistant"));
  // A developer message that lists a format of that name already is left as it is.
  auto shown = with_response_format(conversation, {"answer", std::nullopt, JsonValue::parse("{}").value()});
  REQUIRE(shown.ok());
  REQUIRE(shown.value().size() == 2);
  auto again = render_chat_prompt(renderer(), shown.value(), options);
  REQUIRE(again.ok());
  CHECK(again.value() == encode_all("<|start|>developer<|message|># Response Formats\n\n## answer\n\n{}<|end|>"
                                    "<|start|>user<|message|>Hi<|end|><|start|>assistant"));
  // Without a format: the plain render.
  options.response_format_schema.clear();
  CHECK(render_chat_prompt(renderer(), conversation, options).value() ==
        renderer().render_conversation_for_completion(conversation, Role::assistant).value());
  options.response_format_schema = "{not json";
  auto bad = render_chat_prompt(renderer(), conversation, options);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().rfind("response_format: ", 0) == 0);
}
