// chat_turn on a tiny model with the full 201,088-id vocabulary (random
// weights: the text is meaningless, so these tests assert structure: cache
// reuse, determinism, finish reasons, cancellation, history), and a tool-call
// round trip on a scripted model (tests/support/scripted_checkpoint.hpp).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>

#include "checkpoint_writer.hpp"
#include "ossrt/chat.hpp"
#include "scripted_checkpoint.hpp"
#include "test_chat_support.hpp"
#include "weather_script.h"

using namespace ossrt;
using namespace ossrt::harmony;
using namespace chat_test;

namespace {

std::shared_ptr<const Model> full_vocab_model() {
  return model_written_once([](const std::filesystem::path& dir) {
    REQUIRE(write_synthetic_checkpoint(dir, synthetic_config("tiny-chat").value(), 2026).ok());
  });
}

std::unique_ptr<Session> new_session(size_t context = 0, size_t chunk = 32) {
  SessionOptions options;
  options.context_length = context;
  options.max_batch_tokens = chunk;
  auto session = Session::create(full_vocab_model(), options);
  REQUIRE(session.ok());
  return std::move(session.value());
}

Sampler sampler(uint64_t seed, std::vector<std::pair<TokenId, float>> bias = {}) {
  SamplerOptions options;
  options.seed = seed;
  options.logit_bias = std::move(bias);
  return Sampler::create(options).value();
}

Conversation opening(const std::string& question) {
  return {Message::from_role_and_content(Role::system, SystemContent::defaults()),
          Message::from_role_and_content(Role::user, question)};
}

size_t common_prefix(std::span<const TokenId> a, std::span<const TokenId> b) {
  size_t n = 0;
  while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
  return n;
}

// One turn on a fresh session: the session's tokens afterwards.
std::vector<TokenId> tokens_after_turn(Conversation conversation, const ChatOptions& options, const Sampler& draw,
                                       size_t* constrained_tokens = nullptr) {
  auto session = new_session();
  auto turn = chat_turn(*session, renderer(), conversation, draw, options);
  REQUIRE(turn.ok());
  if (constrained_tokens) *constrained_tokens = turn.value().constrained_tokens;
  return std::vector<TokenId>(session->tokens().begin(), session->tokens().end());
}

}  // namespace

TEST_CASE("a multi-turn chat reuses the cached history") {
  auto session = new_session();
  Conversation conversation = opening("Hello there.");
  ChatOptions options;
  options.max_tokens = 12;
  auto first = chat_turn(*session, renderer(), conversation, sampler(1), options);
  REQUIRE(first.ok());
  CHECK(first.value().reused_tokens == 0);
  CHECK(first.value().generated_tokens <= 12);
  CHECK(conversation.size() == 2 + first.value().messages.size());

  conversation.push_back(Message::from_role_and_content(Role::user, "And then?"));
  const std::vector<TokenId> held(session->tokens().begin(), session->tokens().end());
  auto prompt = renderer().render_conversation_for_completion(conversation, Role::assistant);
  REQUIRE(prompt.ok());
  const size_t expected = std::min(common_prefix(held, prompt.value()), prompt.value().size() - 1);
  auto second = chat_turn(*session, renderer(), conversation, sampler(1), options);
  REQUIRE(second.ok());
  CHECK(second.value().reused_tokens == expected);
  // The whole first prompt but its last token at least ("<|start|>" then "assistant" or "user").
  CHECK(second.value().reused_tokens >= first.value().prompt_tokens - 1);
  CHECK(second.value().prompt_tokens == prompt.value().size());
}

TEST_CASE("the same seed gives the same turn; another seed another") {
  auto run = [](uint64_t seed) {
    ChatOptions options;
    options.max_tokens = 16;
    return tokens_after_turn(opening("Pick a number."), options, sampler(seed));
  };
  CHECK(run(5) == run(5));
  CHECK(run(5) != run(6));
}

TEST_CASE("finish reasons: stop on <|return|>, tool_call on <|call|>, length, context_full") {
  Conversation conversation = opening("Hi");
  auto session = new_session();
  ChatOptions options;
  options.max_tokens = 8;
  auto stop = chat_turn(*session, renderer(), conversation, sampler(1, {{200002, 1e4f}}), options);
  REQUIRE(stop.ok());
  CHECK(stop.value().finish_reason == FinishReason::stop);
  CHECK(stop.value().generated_tokens == 1);

  Conversation other = opening("Hi");
  auto call = chat_turn(*session, renderer(), other, sampler(1, {{200012, 1e4f}}), options);
  REQUIRE(call.ok());
  CHECK(call.value().finish_reason == FinishReason::tool_call);

  // <|end|> must not stop sampling: the model writes it between its messages.
  Conversation ends = opening("Hi");
  auto length = chat_turn(*session, renderer(), ends, sampler(1, {{200007, 1e4f}}), options);
  REQUIRE(length.ok());
  CHECK(length.value().finish_reason == FinishReason::length);
  CHECK(length.value().generated_tokens == 8);

  Conversation extra = opening("Hi");
  options.extra_stop_tokens = {200007};
  auto extra_stop = chat_turn(*session, renderer(), extra, sampler(1, {{200007, 1e4f}}), options);
  REQUIRE(extra_stop.ok());
  CHECK(extra_stop.value().finish_reason == FinishReason::stop);
  options.extra_stop_tokens.clear();

  auto prompt = renderer().render_conversation_for_completion(opening("Hi"), Role::assistant);
  REQUIRE(prompt.ok());
  auto small = new_session(prompt.value().size() + 3);
  Conversation full = opening("Hi");
  auto context_full = chat_turn(*small, renderer(), full, sampler(1), options);
  REQUIRE(context_full.ok());
  CHECK(context_full.value().finish_reason == FinishReason::context_full);
  CHECK(context_full.value().generated_tokens == 3);
}

TEST_CASE("a reasoning budget ends the turn once analysis used it up") {
  auto session = new_session();
  Conversation conversation = opening("Think hard.");
  ChatOptions options;
  options.max_tokens = 40;
  options.reasoning_budget = 5;
  // Open the analysis channel first: <|channel|> then "analysis" then <|message|>, by bias.
  const std::vector<std::pair<TokenId, float>> bias{{200005, 30.f}, {35644, 29.f}, {200008, 28.f}};
  auto turn = chat_turn(*session, renderer(), conversation, sampler(3, bias), options);
  REQUIRE(turn.ok());
  if (turn.value().reasoning_tokens > 0) {
    CHECK(turn.value().finish_reason == FinishReason::reasoning_budget);
    CHECK(turn.value().reasoning_tokens == 5);
  }
}

TEST_CASE("events stream to the listener; returning false ends the turn") {
  auto session = new_session();
  Conversation conversation = opening("Hi");
  size_t seen = 0;
  ChatOptions options;
  options.max_tokens = 64;
  options.on_event = [&](const ParseEvent&) {
    ++seen;
    return false;
  };
  // <|message|> first: the header is complete, so a message_start event comes at once.
  auto turn = chat_turn(*session, renderer(), conversation, sampler(9, {{200008, 1e4f}}), options);
  REQUIRE(turn.ok());
  CHECK(seen == 1);  // not called again after it said stop
  CHECK(turn.value().finish_reason == FinishReason::cancelled);
  CHECK(turn.value().generated_tokens == 1);
}

TEST_CASE("cancel from another thread stops a long prefill; the session stays usable") {
  std::atomic<bool> prefilling{false};
  SessionOptions session_options;
  session_options.max_batch_tokens = 8;
  session_options.prefill_progress = [&](size_t, size_t) {
    prefilling = true;
    return true;
  };
  auto created = Session::create(full_vocab_model(), session_options);
  REQUIRE(created.ok());
  auto& session = created.value();
  std::string long_text;
  for (int i = 0; i < 300; ++i) long_text += "word" + std::to_string(i) + " ";
  Conversation conversation = opening(long_text);
  // Cancels once the prefill (80+ chunks) has begun: the turn is interrupted whatever the kernels' speed.
  std::thread canceller([&] {
    while (!prefilling) std::this_thread::yield();
    session->cancel();
  });
  ChatOptions options;
  options.max_tokens = 4;
  auto turn = chat_turn(*session, renderer(), conversation, sampler(1), options);
  canceller.join();
  REQUIRE(turn.ok());
  CHECK(turn.value().finish_reason == FinishReason::cancelled);
  CHECK(conversation.size() == 2);  // nothing appended
  CHECK(session->tokens().size() < turn.value().prompt_tokens);
  // The next turn continues from what the interrupted one committed.
  const size_t committed = session->tokens().size();
  auto again = chat_turn(*session, renderer(), conversation, sampler(1), options);
  REQUIRE(again.ok());
  CHECK(again.value().reused_tokens >= std::min(committed, again.value().prompt_tokens - 1));
  CHECK(again.value().finish_reason != FinishReason::cancelled);
}

TEST_CASE("a model without harmony's ids is refused with a status") {
  auto model = Model::load(OSSRT_TEST_DATA_DIR "/tiny-a");
  REQUIRE(model.ok());
  auto session = Session::create(model.value());
  REQUIRE(session.ok());
  Conversation conversation = opening("Hi");
  auto turn = chat_turn(*session.value(), renderer(), conversation, sampler(1));
  REQUIRE_FALSE(turn.ok());
  CHECK(turn.status().code() == StatusCode::invalid_argument);
  CHECK(conversation.size() == 2);
}

TEST_CASE("the reasoning effort is the conversation's: a turn renders what its system message says") {
  auto session = new_session();
  Conversation conversation = opening("Hi");
  set_reasoning_effort(conversation, ReasoningEffort::high);
  ChatOptions options;
  options.max_tokens = 1;
  auto turn = chat_turn(*session, renderer(), conversation, sampler(1), options);
  REQUIRE(turn.ok());
  const std::string prompt = renderer().tokenizer()->decode_lossy(session->tokens());
  CHECK(prompt.find("Reasoning: high") != std::string::npos);
  CHECK(prompt.find("Reasoning: medium") == std::string::npos);
}

TEST_CASE("a tool call round trip on the scripted weather model") {
  const auto& tokenizer = renderer().tokenizer();
  auto created = Session::create(weather_model());
  REQUIRE(created.ok());
  Session& session = *created.value();
  ToolDescription get_weather{"get_weather", "Weather for a city.", std::nullopt};
  Conversation conversation = opening("What is the weather in Paris?");
  conversation.insert(
      conversation.begin() + 1,
      Message::from_role_and_content(Role::developer, DeveloperContent{}.with_function_tools({get_weather})));
  std::vector<ParseEvent> deltas;
  ChatOptions options;
  options.max_tokens = 64;
  options.on_event = [&](const ParseEvent& event) {
    if (event.kind == ParseEvent::Kind::content_delta) deltas.push_back(event);
    return true;
  };

  auto call = chat_turn(session, renderer(), conversation, sampler(11), options);
  REQUIRE(call.ok());
  CHECK(call.value().finish_reason == FinishReason::tool_call);
  REQUIRE(call.value().tool_call.has_value());
  const ToolCall& tool_call = *call.value().tool_call;
  CHECK(tool_call.recipient == OSSRT_WEATHER_TOOL);
  CHECK(tool_call.function == "get_weather");
  CHECK(tool_call.arguments == OSSRT_WEATHER_ARGUMENTS);
  CHECK(tool_call.channel == "commentary");
  CHECK(tool_call.content_type == "<|constrain|>json");
  REQUIRE_FALSE(deltas.empty());
  for (const ParseEvent& delta : deltas) {
    CHECK(delta.channel == std::optional<std::string>("commentary"));
    CHECK(delta.recipient == std::optional<std::string>(OSSRT_WEATHER_TOOL));
  }

  add_tool_result(conversation, tool_call.recipient, "{\"forecast\":\"sunny\"}");
  REQUIRE(conversation.size() == 5);
  auto rendered = renderer().render(conversation.back());
  REQUIRE(rendered.ok());
  CHECK(rendered.value() == tokenizer
                                ->encode("<|start|>functions.get_weather to=assistant<|channel|>commentary"
                                         "<|message|>{\"forecast\":\"sunny\"}<|end|>",
                                         AllowedSpecials::all())
                                .value());

  deltas.clear();
  const size_t held = session.tokens().size();
  auto answer = chat_turn(session, renderer(), conversation, sampler(11), options);
  REQUIRE(answer.ok());
  CHECK(answer.value().finish_reason == FinishReason::stop);
  CHECK_FALSE(answer.value().tool_call.has_value());
  CHECK(answer.value().reused_tokens >= held - 1);  // the call's turn stays cached
  REQUIRE(answer.value().messages.size() == 1);
  CHECK(answer.value().messages[0].channel == std::optional<std::string>("final"));
  CHECK(answer.value().messages[0].text() == OSSRT_WEATHER_ANSWER);
  std::string streamed;
  for (const ParseEvent& delta : deltas) {
    CHECK(delta.channel == std::optional<std::string>("final"));
    streamed += delta.text;
  }
  CHECK(streamed == OSSRT_WEATHER_ANSWER);
}

// ---- structured output ----

namespace {

const char* const kShoppingList =
    R"({"properties":{"items":{"type":"array","description":"entries on the shopping list","items":{"type":"string"}}},"type":"object"})";

Message developer_with_format() {
  return Message::from_role_and_content(
      Role::developer,
      DeveloperContent{}.with_response_format({"response", std::nullopt, JsonValue::parse(kShoppingList).value()}));
}

}  // namespace

TEST_CASE("response formats render as harmony's guide writes them, to the token") {
  const JsonValue schema = JsonValue::parse(kShoppingList).value();
  Message developer = Message::from_role_and_content(
      Role::developer, DeveloperContent{}
                           .with_instructions("You are a helpful shopping assistant")
                           .with_response_format({"shopping_list", std::nullopt, schema}));
  auto rendered = renderer().render(developer);
  REQUIRE(rendered.ok());
  CHECK(rendered.value() == encode_all(std::string("<|start|>developer<|message|># Instructions\n\nYou are a helpful "
                                                   "shopping assistant\n\n# Response Formats\n\n## shopping_list\n\n") +
                                       kShoppingList + "<|end|>"));

  // With a description, after the tools, and alone.
  ToolDescription ping{"ping", "Checks.", std::nullopt};
  Message described = Message::from_role_and_content(
      Role::developer,
      DeveloperContent{}.with_function_tools({ping}).with_response_format(
          {"answer", std::string("The answer object"), JsonValue::parse(R"({"type": "object"})").value()}));
  rendered = renderer().render(described);
  REQUIRE(rendered.ok());
  CHECK(rendered.value() ==
        encode_all("<|start|>developer<|message|># Tools\n\n## functions\n\nnamespace functions {\n\n"
                   "// Checks.\ntype ping = () => any;\n\n} // namespace functions\n\n"
                   "# Response Formats\n\n## answer\n\n// The answer object\n"
                   "{\"type\":\"object\"}<|end|>"));
  rendered = renderer().render(developer_with_format());
  REQUIRE(rendered.ok());
  CHECK(rendered.value() ==
        encode_all(std::string("<|start|>developer<|message|># Response Formats\n\n## response\n\n") + kShoppingList +
                   "<|end|>"));

  // The conversation JSON keeps them (name, description, schema in its key order).
  for (const Message& message : {developer, described}) {
    const Conversation conversation{message};
    auto back = harmony::conversation_from_json(harmony::to_json(conversation));
    REQUIRE_MESSAGE(back.ok(), back.status().to_string());
    CHECK(renderer().render(back.value()[0]).value() == renderer().render(message).value());
  }
  CHECK_FALSE(
      harmony::conversation_from_json(
          R"([{"role":"developer","content":[{"type":"developer_content","response_formats":[{"name":"x"}]}]}])")
          .ok());
}

TEST_CASE("a turn with a response format renders it into the developer message; the conversation is unchanged") {
  for (bool has_developer : {false, true}) {
    auto session = new_session();
    Conversation conversation = opening("Buy coffee and eggs.");
    if (has_developer)
      conversation.insert(
          conversation.begin() + 1,
          Message::from_role_and_content(Role::developer, DeveloperContent{}.with_instructions("Be brief.")));
    const Conversation before = conversation;
    ChatOptions options;
    options.max_tokens = 4;
    options.response_format_schema = kShoppingList;
    options.response_format_name = "shopping_list";
    auto turn = chat_turn(*session, renderer(), conversation, sampler(3), options);
    REQUIRE(turn.ok());
    CHECK(to_json(Conversation(conversation.begin(), conversation.begin() + static_cast<long>(before.size()))) ==
          to_json(before));
    Conversation shown = before;
    DeveloperContent developer = has_developer ? std::get<DeveloperContent>(shown[1].content[0]) : DeveloperContent{};
    developer.with_response_format({"shopping_list", std::nullopt, JsonValue::parse(kShoppingList).value()});
    if (has_developer)
      shown[1] = Message::from_role_and_content(Role::developer, developer);
    else
      shown.insert(shown.begin() + 1, Message::from_role_and_content(Role::developer, developer));
    auto expected = renderer().render_conversation_for_completion(shown, Role::assistant);
    REQUIRE(expected.ok());
    CHECK(turn.value().prompt_tokens == expected.value().size());
    CHECK(std::equal(expected.value().begin(), expected.value().end(), session->tokens().begin()));
  }
}

TEST_CASE("bad response formats and strict tools are refused with a status; the conversation is unchanged") {
  auto session = new_session();
  Conversation conversation = opening("Hi.");
  ChatOptions options;
  options.response_format_schema = R"({"type":"object","properties":{"a":{"type":"strin"}}})";
  auto turn = chat_turn(*session, renderer(), conversation, sampler(1), options);
  REQUIRE_FALSE(turn.ok());
  CHECK(turn.status().code() == StatusCode::invalid_argument);
  CHECK(turn.status().message().rfind("response_format: ", 0) == 0);
  CHECK(turn.status().message().find("byte") != std::string::npos);
  options.response_format_schema = "{not json";
  turn = chat_turn(*session, renderer(), conversation, sampler(1), options);
  REQUIRE_FALSE(turn.ok());
  CHECK(turn.status().message().find("byte") != std::string::npos);
  options.response_format_schema.clear();
  options.strict_tools = {"missing"};
  turn = chat_turn(*session, renderer(), conversation, sampler(1), options);
  REQUIRE_FALSE(turn.ok());
  CHECK(turn.status().code() == StatusCode::invalid_argument);
  CHECK(turn.status().message().find("'missing'") != std::string::npos);
  CHECK(conversation.size() == 2);
}

TEST_CASE("a chat without a response format is today's decode loop: same tokens, same logits") {
  for (uint64_t seed : {1u, 2u}) {
    auto chat_session = new_session();
    Conversation conversation = opening("Tell me something.");
    ChatOptions options;
    options.max_tokens = 24;
    auto turn = chat_turn(*chat_session, renderer(), conversation, sampler(seed), options);
    REQUIRE(turn.ok());
    CHECK(turn.value().constrained_tokens == 0);

    // The loop by hand: render, prefill, sample, append.
    auto manual = new_session();
    auto prompt = renderer().render_conversation_for_completion(opening("Tell me something."), Role::assistant);
    REQUIRE(prompt.ok());
    REQUIRE(manual->append(prompt.value()).ok());
    const Sampler draw = sampler(seed);
    for (size_t i = 0; i < turn.value().generated_tokens; ++i) {
      auto next = draw.sample(manual->logits(), manual->tokens(), manual->tokens().size());
      REQUIRE(next.ok());
      const TokenId one[1] = {next.value()};
      REQUIRE(manual->append(one).ok());
    }
    CHECK(std::equal(manual->tokens().begin(), manual->tokens().end(), chat_session->tokens().begin(),
                     chat_session->tokens().end()));
    REQUIRE(manual->logits().size() == chat_session->logits().size());
    CHECK(std::memcmp(manual->logits().data(), chat_session->logits().data(), manual->logits().size_bytes()) == 0);
  }
}

TEST_CASE("analysis, headers and other channels are never constrained: the same tokens with and without the schema") {
  // The format is in the developer message either way, so both prompts are
  // equal; the random model never opens a final message in 64 tokens.
  for (uint64_t seed : {4u, 5u, 6u}) {
    auto run = [&](bool constrained) {
      Conversation conversation = opening("Think first.");
      conversation.insert(conversation.begin() + 1, developer_with_format());
      ChatOptions options;
      options.max_tokens = 64;
      if (constrained) options.response_format_schema = kShoppingList;
      size_t constrained_tokens = 1;
      auto tokens = tokens_after_turn(conversation, options, sampler_at(seed, 1.5f), &constrained_tokens);
      CHECK(constrained_tokens == 0);
      return tokens;
    };
    CHECK(run(false) == run(true));
  }
}

namespace {

// Schema checks written from the schemas' meaning (independent of the engine).
bool valid_weather_arguments(const JsonValue& v) {
  const JsonValue *city = v.find("city"), *days = v.find("days");
  if (!v.is_object() || v.members().size() != 2 || !city || !days) return false;
  if (!city->is_string() || (city->as_string() != "Rome" && city->as_string() != "Oslo")) return false;
  if (days->type() != JsonValue::Type::integer && days->type() != JsonValue::Type::unsigned_integer) return false;
  const long long n = std::stoll(days->dump());
  return n >= 1 && n <= 7;
}

bool valid_forecast(const JsonValue& v) {
  const JsonValue *summary = v.find("summary"), *sunny = v.find("sunny");
  if (!v.is_object() || !summary || !sunny || !summary->is_string() || !sunny->is_bool()) return false;
  size_t chars = 0;
  for (unsigned char c : summary->as_string()) chars += (c & 0xc0) != 0x80;
  return chars <= 24 && v.members().size() == 2;
}

}  // namespace

TEST_CASE("the scripted weather model: strict tool arguments and the final answer follow their schemas") {
  // The script writes {"city":"Paris"}: the schema refuses Paris and wants days.
  ToolDescription get_weather{
      "get_weather", "Weather for a city.",
      JsonValue::parse(R"({"type":"object","properties":{"city":{"enum":["Rome","Oslo"]},)"
                       R"("days":{"type":"integer","minimum":1,"maximum":7}},"required":["city","days"]})")
          .value()};
  for (float temperature : {1.0f, 1.5f}) {
    for (uint64_t seed : {1u, 2u, 3u, 4u}) {
      CAPTURE(temperature);
      CAPTURE(seed);
      auto created = Session::create(weather_model());
      REQUIRE(created.ok());
      Session& session = *created.value();
      Conversation conversation = opening("What is the weather in Paris?");
      conversation.insert(
          conversation.begin() + 1,
          Message::from_role_and_content(Role::developer, DeveloperContent{}.with_function_tools({get_weather})));
      ChatOptions options;
      options.max_tokens = 400;
      options.strict_tools = {"get_weather"};
      options.response_format_schema =
          R"({"type":"object","properties":{"summary":{"type":"string","maxLength":24},"sunny":{"type":"boolean"}},)"
          R"("required":["summary","sunny"]})";
      auto call = chat_turn(session, renderer(), conversation, sampler_at(seed, temperature), options);
      REQUIRE(call.ok());
      REQUIRE(call.value().finish_reason == FinishReason::tool_call);
      REQUIRE(call.value().tool_call.has_value());
      CHECK(call.value().tool_call->recipient == OSSRT_WEATHER_TOOL);
      CHECK(call.value().constrained_tokens > 0);
      auto arguments = JsonValue::parse(call.value().tool_call->arguments);
      REQUIRE_MESSAGE(arguments.ok(), call.value().tool_call->arguments);
      CHECK_MESSAGE(valid_weather_arguments(arguments.value()), call.value().tool_call->arguments);

      add_tool_result(conversation, call.value().tool_call->recipient, "{\"forecast\":\"sunny\"}");
      auto answer = chat_turn(session, renderer(), conversation, sampler_at(seed, temperature), options);
      REQUIRE(answer.ok());
      CHECK(answer.value().finish_reason == FinishReason::stop);
      REQUIRE(answer.value().messages.size() == 1);
      CHECK(answer.value().messages[0].channel == std::optional<std::string>("final"));
      const std::string text = answer.value().messages[0].text();
      auto parsed = JsonValue::parse(text);
      REQUIRE_MESSAGE(parsed.ok(), text);
      CHECK_MESSAGE(valid_forecast(parsed.value()), text);
      // The answer ended with <|return|> right after the JSON, never before it.
      CHECK(session.tokens().back() == renderer().tokenizer()->special_id(SpecialToken::return_));
    }
  }
}
