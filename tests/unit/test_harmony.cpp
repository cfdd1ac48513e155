// Harmony beyond the conformance cases: JSON fidelity, builders, tool calls,
// and lenient recovery from every malformed shape models are known to emit.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "ossrt/harmony.hpp"

using namespace ossrt;
using namespace ossrt::harmony;

namespace {

const std::shared_ptr<const Tokenizer>& tok() {
  static auto instance = Tokenizer::o200k_harmony();
  REQUIRE(instance.ok());
  return instance.value();
}

const Renderer& renderer() {
  static Renderer instance(tok());
  return instance;
}

std::vector<TokenId> encode_all(std::string_view text) {
  auto ids = tok()->encode(text, AllowedSpecials::all());
  REQUIRE(ids.ok());
  return ids.value();
}

struct Parsed {
  Status status;
  std::vector<Message> messages;
  std::vector<ParseEvent> events;

  size_t count(ParseEvent::Kind kind) const {
    size_t n = 0;
    for (const ParseEvent& e : events) n += e.kind == kind;
    return n;
  }
  bool has_anomaly(AnomalyKind kind) const {
    for (const ParseEvent& e : events)
      if (e.kind == ParseEvent::Kind::anomaly && e.anomaly == kind) return true;
    return false;
  }
};

Parsed parse(const std::vector<TokenId>& ids, std::optional<Role> role, ParseMode mode, bool finish = true) {
  StreamParser parser(tok(), role, mode);
  Parsed out;
  for (TokenId id : ids) {
    out.status = parser.push(id, &out.events);
    if (!out.status.ok()) break;
  }
  if (out.status.ok() && finish) out.status = parser.finish(&out.events);
  out.messages = parser.messages();
  return out;
}

Parsed parse_text(std::string_view text, std::optional<Role> role, ParseMode mode = ParseMode::lenient) {
  return parse(encode_all(text), role, mode);
}

}  // namespace

TEST_CASE("JsonValue keeps key order and prints numbers the way serde_json does") {
  auto value = JsonValue::parse(
      R"({"z": 1, "a": [1.0, 1.5, 1e20, 0.0001, 1e-7, 1.2345678901234568e20, -0.0, 100, -5,
          18446744073709551615, 1e16, 1e15, 0.1, 2.5e-5], "m": {"b": true, "a": null}, "s": "q\"\\\n\u0001é/"})");
  REQUIRE(value.ok());
  CHECK(value.value().dump() ==
        "{\"z\":1,\"a\":[1.0,1.5,1e20,0.0001,1e-7,1.2345678901234568e20,-0.0,100,-5,18446744073709551615,1e16,"
        "1000000000000000.0,0.1,0.000025],\"m\":{\"b\":true,\"a\":null},\"s\":\"q\\\"\\\\\\n\\u0001é/\"}");
  // A repeated key keeps its first position and its last value.
  auto repeated = JsonValue::parse(R"({"a": 1, "b": 2, "a": 3})");
  REQUIRE(repeated.ok());
  CHECK(repeated.value().dump() == R"({"a":3,"b":2})");
  // Integer literals beyond 64 bits are refused (serde_json would read them as floats).
  CHECK_FALSE(JsonValue::parse("123456789012345680000").ok());
}

TEST_CASE("JsonValue refuses malformed and too deeply nested documents with a status") {
  for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "nul", "\"\\x\"", "[1] [2]"}) {
    auto value = JsonValue::parse(bad);
    CHECK_FALSE(value.ok());
    CHECK(value.status().code() == StatusCode::invalid_argument);
  }
  const std::string deep = std::string(100, '[') + std::string(100, ']');
  auto value = JsonValue::parse(deep, 64);
  REQUIRE_FALSE(value.ok());
  CHECK(value.status().message().find("deeper than 64") != std::string::npos);
  CHECK(JsonValue::parse(deep, 128).ok());
}

TEST_CASE("conversation JSON errors name the path") {
  auto missing_role = conversation_from_json(R"([{"content": "hi"}])");
  REQUIRE_FALSE(missing_role.ok());
  CHECK(missing_role.status().message().find("messages[0]") != std::string::npos);
  auto bad_item = conversation_from_json(R"({"messages": [{"role": "user", "content": [{"type": "image"}]}]})");
  REQUIRE_FALSE(bad_item.ok());
  CHECK(bad_item.status().message().find("messages[0].content[0]") != std::string::npos);
  auto bad_tools = conversation_from_json(
      R"([{"role": "developer", "content": [{"type": "developer_content", "tools": {"functions": {"tools": 3}}}]}])");
  REQUIRE_FALSE(bad_tools.ok());
  CHECK(bad_tools.status().message().find("tools.functions") != std::string::npos);
  CHECK(conversation_from_json(R"([{"role": "user", "content": "plain string content"}])").ok());
}

TEST_CASE("builders render like harmony's own test_simple_convo") {
  Conversation conversation{
      Message::from_role_and_content(Role::system, SystemContent::defaults()),
      Message::from_role_and_content(Role::user, "What is 2 + 2?"),
  };
  auto ids = renderer().render_conversation_for_completion(conversation, Role::assistant);
  REQUIRE(ids.ok());
  const char* expected =
      "<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
      "Knowledge cutoff: 2024-06\n\nReasoning: medium\n\n# Valid channels: analysis, commentary, final. Channel must "
      "be included for every message.<|end|><|start|>user<|message|>What is 2 + 2?<|end|><|start|>assistant";
  CHECK(ids.value() == encode_all(expected));
  // The JSON writer round-trips the conversation.
  auto back = conversation_from_json(to_json(conversation));
  REQUIRE(back.ok());
  CHECK(renderer().render_conversation_for_completion(back.value(), Role::assistant).value() == ids.value());
}

TEST_CASE("set_reasoning_effort edits the system message, or adds the default one first") {
  Conversation conversation{Message::from_role_and_content(Role::user, "What is 2 + 2?")};
  CHECK(system_content(conversation) == nullptr);
  set_reasoning_effort(conversation, ReasoningEffort::high);
  REQUIRE(conversation.size() == 2);
  REQUIRE(system_content(conversation) == std::get_if<SystemContent>(&conversation[0].content[0]));
  set_reasoning_effort(conversation, ReasoningEffort::low);
  CHECK(conversation.size() == 2);
  const Conversation& view = conversation;
  REQUIRE(system_content(view) != nullptr);
  CHECK(system_content(view)->reasoning_effort == ReasoningEffort::low);
  auto ids = renderer().render_conversation_for_completion(conversation, Role::assistant);
  REQUIRE(ids.ok());
  CHECK(ids.value() ==
        encode_all("<|start|>system<|message|>You are ChatGPT, a large language model trained by OpenAI.\n"
                   "Knowledge cutoff: 2024-06\n\nReasoning: low\n\n# Valid channels: analysis, commentary, final. "
                   "Channel must be included for every message.<|end|><|start|>user<|message|>What is 2 + 2?<|end|>"
                   "<|start|>assistant"));
  // A system message with only text holds no SystemContent: one is added in front.
  Conversation text_system{Message::from_role_and_content(Role::system, "Be terse.")};
  set_reasoning_effort(text_system, ReasoningEffort::medium);
  REQUIRE(text_system.size() == 2);
  CHECK(system_content(text_system) == std::get_if<SystemContent>(&text_system[0].content[0]));
}

TEST_CASE("add_tool_result answers on the channel of the last call to that tool") {
  Conversation conversation;
  const auto call = [](const char* recipient, std::optional<std::string> channel) {
    Message message = Message::from_role_and_content(Role::assistant, "{}").with_recipient(recipient);
    message.channel = std::move(channel);
    return message;
  };
  conversation.push_back(call("browser.search", "commentary"));
  conversation.push_back(call("browser.search", "analysis"));  // the last call to it decides
  conversation.push_back(call("functions.bare", std::nullopt));
  add_tool_result(conversation, "browser.search", "results");
  add_tool_result(conversation, "functions.bare", "1");
  add_tool_result(conversation, "functions.never_called", "2");
  REQUIRE(conversation.size() == 6);
  CHECK(tok()->decode_lossy(renderer().render(conversation[3]).value()) ==
        "<|start|>browser.search to=assistant<|channel|>analysis<|message|>results<|end|>");
  // A call without a channel gets an answer without one, as Message::tool_result gives.
  CHECK(tok()->decode_lossy(renderer().render(conversation[4]).value()) ==
        "<|start|>functions.bare to=assistant<|message|>1<|end|>");
  CHECK(tok()->decode_lossy(renderer().render(conversation[5]).value()) ==
        "<|start|>functions.never_called to=assistant<|channel|>commentary<|message|>2<|end|>");
  // A user's message "to" the tool is not a call.
  Conversation user_only{Message::from_role_and_content(Role::user, "x").with_recipient("functions.f")};
  user_only.back().channel = "analysis";
  add_tool_result(user_only, "functions.f", "y");
  CHECK(user_only.back().channel == std::optional<std::string>("commentary"));
}

TEST_CASE("built-in browser and python namespaces are compiled in") {
  const ToolNamespace browser = ToolNamespace::browser();
  CHECK(browser.name == "browser");
  REQUIRE(browser.tools.size() == 3);
  CHECK(browser.tools[0].name == "search");
  CHECK(browser.tools[0].parameters.has_value());
  const ToolNamespace python = ToolNamespace::python();
  CHECK(python.name == "python");
  CHECK(python.tools.empty());
  CHECK(python.description.value_or("").find("stateful Jupyter notebook") != std::string::npos);
  SystemContent system = SystemContent::defaults();
  system.with_python_tool().with_browser_tool();
  REQUIRE(system.tools.has_value());
  CHECK(system.tools->begin()->first == "browser");  // rendered in name order
}

TEST_CASE("render errors are statuses") {
  Message tool = Message::from_role_and_content(Role::tool, "result");
  auto no_name = renderer().render(tool);
  REQUIRE_FALSE(no_name.ok());
  CHECK(no_name.status().message().find("name") != std::string::npos);
  auto misplaced = renderer().render(Message::from_role_and_content(Role::user, SystemContent::defaults()));
  REQUIRE_FALSE(misplaced.ok());
  CHECK(misplaced.status().message().find("SystemContent") != std::string::npos);
  auto conversation = renderer().render_conversation(
      {Message::from_role_and_content(Role::user, "hi"),
       Message::from_role_and_content(Role::assistant, DeveloperContent().with_instructions("x"))});
  REQUIRE_FALSE(conversation.ok());
  CHECK(conversation.status().message().find("messages[1]") != std::string::npos);
}

TEST_CASE("schemas nested beyond the limit are refused, not recursed into") {
  JsonValue schema = JsonValue::object({{"type", JsonValue::string("string")}});
  for (int i = 0; i < 200; ++i)
    schema = JsonValue::object({{"type", JsonValue::string("array")}, {"items", std::move(schema)}});
  auto text = json_schema_to_typescript(schema);
  REQUIRE_FALSE(text.ok());
  CHECK(text.status().code() == StatusCode::invalid_argument);
  ToolDescription tool{"deep", "d", schema};
  auto ids = renderer().render(
      Message::from_role_and_content(Role::developer, DeveloperContent().with_function_tools({tool})));
  CHECK_FALSE(ids.ok());
}

TEST_CASE("stop sets: <|end|> ends a message but not sampling") {
  CHECK(renderer().stop_tokens() == std::vector<TokenId>{200002, 200007, 200012});
  CHECK(renderer().stop_tokens_for_assistant_actions() == std::vector<TokenId>{200002, 200012});
}

TEST_CASE("history renders a returned final message with <|end|>, training with <|return|>") {
  auto parsed = parse_text("<|channel|>final<|message|>4<|return|>", Role::assistant, ParseMode::strict);
  REQUIRE(parsed.status.ok());
  Conversation conversation{Message::from_role_and_content(Role::user, "2+2?")};
  conversation.push_back(parsed.messages.at(0));
  auto history = renderer().render_conversation(conversation);
  REQUIRE(history.ok());
  CHECK(history.value().back() == 200007);
  CHECK(renderer().render_conversation_for_training(conversation).value().back() == 200002);
}

TEST_CASE("every tool-call header variant becomes a tool call") {
  struct Variant {
    const char* text;
    std::optional<Role> role;
    const char* recipient;
    const char* namespace_name;
    const char* function;
    const char* channel;
    const char* content_type;
  };
  const Variant variants[] = {
      {"<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"city\":\"SF\"}<|call|>",
       Role::assistant, "functions.get_weather", "functions", "get_weather", "commentary", "<|constrain|>json"},
      {"<|start|>assistant to=functions.get_weather<|channel|>commentary <|constrain|>json<|message|>{}<|call|>",
       std::nullopt, "functions.get_weather", "functions", "get_weather", "commentary", "<|constrain|>json"},
      {"<|channel|>commentary to=functions.f<|constrain|>json<|message|>{}<|call|>", Role::assistant, "functions.f",
       "functions", "f", "commentary", "<|constrain|>json"},
      {"<|channel|>commentary to=functions.f json<|message|>{}<|call|>", Role::assistant, "functions.f", "functions",
       "f", "commentary", "json"},
      {"<|channel|>analysis to=python code<|message|>print(2**100)<|call|>", Role::assistant, "python", "python", "",
       "analysis", "code"},
      {"<|channel|>analysis to=browser.search<|message|>{\"query\":\"x\"}<|call|>", Role::assistant, "browser.search",
       "browser", "search", "analysis", ""},
      {"<|start|>assistant functions.f<|message|>{}<|call|>", std::nullopt, "functions.f", "functions", "f", "", ""},
  };
  for (const Variant& v : variants) {
    CAPTURE(v.text);
    for (ParseMode mode : {ParseMode::strict, ParseMode::lenient}) {
      Parsed parsed = parse_text(v.text, v.role, mode);
      REQUIRE(parsed.status.ok());
      REQUIRE(parsed.messages.size() == 1);
      auto call = as_tool_call(parsed.messages[0]);
      REQUIRE(call.has_value());
      CHECK(call->recipient == v.recipient);
      CHECK(call->namespace_name == v.namespace_name);
      CHECK(call->function == v.function);
      CHECK(call->channel == v.channel);
      CHECK(call->content_type == v.content_type);
      CHECK(parsed.count(ParseEvent::Kind::tool_call) == 1);
      CHECK(parsed.count(ParseEvent::Kind::anomaly) == 0);
    }
  }
}

TEST_CASE("a tool result renders back as harmony's tool message") {
  Parsed parsed = parse_text(
      "<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{\"location\":\"SF\"}<|call|>",
      Role::assistant);
  REQUIRE(parsed.messages.size() == 1);
  auto ids = renderer().render(Message::tool_result(parsed.messages[0], "{\"sunny\": true}"));
  REQUIRE(ids.ok());
  CHECK(tok()->decode_lossy(ids.value()) ==
        "<|start|>functions.get_weather to=assistant<|channel|>commentary<|message|>{\"sunny\": true}<|end|>");
  // History puts the recipient right after the author and keeps <|constrain|> special.
  auto call = renderer().render(parsed.messages[0]);
  REQUIRE(call.ok());
  CHECK(call.value() == encode_all("<|start|>assistant to=functions.get_weather<|channel|>commentary "
                                   "<|constrain|>json<|message|>{\"location\":\"SF\"}<|call|>"));
}

TEST_CASE("streaming events: start, deltas per channel, end") {
  Parsed parsed = parse_text(
      "<|channel|>analysis<|message|>Think.<|end|><|start|>assistant<|channel|>final<|message|>Answer 💖 here<|return|>",
      Role::assistant, ParseMode::strict);
  REQUIRE(parsed.status.ok());
  CHECK(parsed.count(ParseEvent::Kind::message_start) == 2);
  CHECK(parsed.count(ParseEvent::Kind::message_end) == 2);
  std::string analysis, final_text;
  for (const ParseEvent& e : parsed.events) {
    if (e.kind != ParseEvent::Kind::content_delta) continue;
    // Each delta names its message's channel: a listener routes it without state.
    CHECK(e.channel == std::optional<std::string>(e.message_index == 0 ? "analysis" : "final"));
    CHECK(e.role == Role::assistant);
    CHECK_FALSE(e.recipient.has_value());
    (e.channel == "analysis" ? analysis : final_text) += e.text;
  }
  CHECK(analysis == "Think.");
  CHECK(final_text == "Answer 💖 here");
  CHECK(parsed.events.front().kind == ParseEvent::Kind::message_start);
  CHECK(parsed.events.front().channel == std::optional<std::string>("analysis"));
}

TEST_CASE("strict mode reports harmony's errors and refuses further input") {
  StreamParser parser(tok(), std::nullopt, ParseMode::strict);
  for (TokenId id : encode_all("<|start|>assistant<|message|>a<|end|>")) REQUIRE(parser.push(id).ok());
  Status status = parser.push(12345);
  REQUIRE_FALSE(status.ok());
  CHECK(status.message() == "Unexpected token 12345 while expecting start token 200006");
  CHECK(parser.push(200006).message() == status.message());
  CHECK(parser.messages().size() == 1);
}

// ---- lenient recovery: each malformed shape keeps what can be kept ----------

TEST_CASE("lenient: a missing <|message|> keeps the text, with or without a known role") {
  Parsed parsed =
      parse_text("<|channel|>analysis<|message|>x<|end|><|start|>assistant<|channel|>final The answer is 4<|end|>",
                 Role::assistant);
  REQUIRE(parsed.status.ok());
  REQUIRE(parsed.messages.size() == 2);
  CHECK(parsed.messages[1].channel == std::optional<std::string>("final"));
  CHECK(parsed.messages[1].text() == "The answer is 4");
  CHECK(parsed.has_anomaly(AnomalyKind::missing_message));
  // The recovered text streams as one delta that names its channel too.
  const ParseEvent& recovered = parsed.events[parsed.events.size() - 2];
  REQUIRE(recovered.kind == ParseEvent::Kind::content_delta);
  CHECK(recovered.text == "The answer is 4");
  CHECK(recovered.channel == std::optional<std::string>("final"));
  // harmony's non-strict mode drops the second one (its role is not known in advance).
  Parsed harmony =
      parse_text("<|channel|>analysis<|message|>x<|end|><|start|>assistant<|channel|>final The answer is 4<|end|>",
                 Role::assistant, ParseMode::harmony_lenient);
  CHECK(harmony.messages.size() == 1);
  // And strict mode fails.
  CHECK_FALSE(parse_text("I must refuse<|end|>", Role::assistant, ParseMode::strict).status.ok());
}

TEST_CASE("lenient: junk or nothing after <|channel|>") {
  Parsed junk = parse_text("<|channel|>commentary?<|message|>hi<|end|>", Role::assistant);
  REQUIRE(junk.messages.size() == 1);
  CHECK(junk.messages[0].channel == std::optional<std::string>("commentary"));
  CHECK(junk.has_anomaly(AnomalyKind::bad_channel));
  Parsed empty = parse_text("<|channel|><|message|>hi<|end|>", Role::assistant);
  REQUIRE(empty.messages.size() == 1);
  CHECK_FALSE(empty.messages[0].channel.has_value());
  CHECK(empty.messages[0].text() == "hi");
  CHECK(empty.has_anomaly(AnomalyKind::bad_channel));
}

TEST_CASE("lenient: a malformed recipient is an anomaly and plain content, never a tool call") {
  // A doubled <|channel|> used to give a call to "<|channel|>final".
  Parsed doubled = parse_text("<|start|>assistant to=<|channel|><|channel|>final<|message|>hi<|call|>", std::nullopt);
  REQUIRE(doubled.messages.size() == 1);
  CHECK_FALSE(doubled.messages[0].recipient.has_value());
  CHECK(doubled.messages[0].text() == "hi");
  CHECK(doubled.has_anomaly(AnomalyKind::bad_recipient));
  Parsed garbled = parse_text("<|channel|>commentary to=\xef\xbf\xbd<|message|>{}<|call|>", Role::assistant);
  REQUIRE(garbled.messages.size() == 1);
  CHECK_FALSE(garbled.messages[0].recipient.has_value());
  CHECK(garbled.has_anomaly(AnomalyKind::bad_recipient));
  // A well-formed name is still a recipient.
  Parsed good = parse_text("<|channel|>commentary to=functions.get_weather<|message|>{}<|call|>", Role::assistant);
  REQUIRE(good.messages.size() == 1);
  CHECK(good.messages[0].recipient == std::optional<std::string>("functions.get_weather"));
  CHECK_FALSE(good.has_anomaly(AnomalyKind::bad_recipient));
}

TEST_CASE("lenient: a doubled <|start|>") {
  Parsed parsed = parse_text("<|start|><|start|>assistant<|channel|>final<|message|>hi<|return|>", std::nullopt);
  REQUIRE(parsed.messages.size() == 1);
  CHECK(parsed.messages[0].text() == "hi");
  CHECK(parsed.has_anomaly(AnomalyKind::doubled_start));
  // A header cut short by a new <|start|> is kept as a message of its own.
  Parsed cut = parse_text("<|channel|>analysis Thinking<|start|>assistant<|channel|>final<|message|>ok<|return|>",
                          Role::assistant);
  REQUIRE(cut.messages.size() == 2);
  CHECK(cut.messages[0].text() == "Thinking");
  CHECK(cut.messages[1].text() == "ok");
}

TEST_CASE("lenient: stray tokens after <|end|> are skipped and reported once") {
  Parsed parsed = parse_text(
      "<|start|>assistant<|message|>a<|end|>oops more junk<|start|>assistant<|channel|>final<|message|>b<|return|>",
      std::nullopt);
  REQUIRE(parsed.messages.size() == 2);
  CHECK(parsed.messages[1].text() == "b");
  size_t stray = 0;
  for (const ParseEvent& e : parsed.events) stray += e.kind == ParseEvent::Kind::anomaly;
  CHECK(stray == 1);
  CHECK(parsed.has_anomaly(AnomalyKind::stray_token));
}

TEST_CASE("lenient: a message that starts with <|channel|> after <|end|>") {
  Parsed parsed =
      parse_text("<|channel|>analysis<|message|>a<|end|><|channel|>final<|message|>b<|return|>", Role::assistant);
  REQUIRE(parsed.messages.size() == 2);
  CHECK(parsed.messages[1].author.role == Role::assistant);
  CHECK(parsed.messages[1].channel == std::optional<std::string>("final"));
  CHECK(parsed.has_anomaly(AnomalyKind::missing_start));
}

TEST_CASE("lenient: unknown or missing role") {
  Parsed unknown = parse_text("<|start|>foo<|message|>x<|end|>", std::nullopt);
  REQUIRE(unknown.messages.size() == 1);
  CHECK(unknown.messages[0].author.role == Role::assistant);
  CHECK(unknown.has_anomaly(AnomalyKind::unknown_role));
  Parsed none = parse_text("<|start|><|message|>x<|end|>", std::nullopt);
  REQUIRE(none.messages.size() == 1);
  CHECK(none.has_anomaly(AnomalyKind::unknown_role));
}

TEST_CASE("lenient: an unterminated header at end of stream") {
  Parsed parsed = parse_text("<|channel|>final Partial answer", Role::assistant);
  REQUIRE(parsed.status.ok());
  REQUIRE(parsed.messages.size() == 1);
  CHECK(parsed.messages[0].text() == "Partial answer");
  CHECK(parsed.has_anomaly(AnomalyKind::missing_message));
  CHECK_FALSE(parse_text("<|channel|>final Partial answer", Role::assistant, ParseMode::strict).status.ok());
}

TEST_CASE("lenient: <|start|> inside content closes the message") {
  Parsed parsed = parse_text("<|channel|>analysis<|message|>a<|start|>assistant<|channel|>final<|message|>b<|return|>",
                             Role::assistant);
  REQUIRE(parsed.messages.size() == 2);
  CHECK(parsed.messages[0].text() == "a");
  CHECK(parsed.messages[1].text() == "b");
  CHECK(parsed.has_anomaly(AnomalyKind::missing_end));
}

TEST_CASE("lenient: leftover header words are dropped and reported") {
  Parsed parsed = parse_text("<|channel|>final extra words json<|message|>b<|end|>", Role::assistant);
  REQUIRE(parsed.messages.size() == 1);
  CHECK(parsed.messages[0].text() == "b");
  CHECK(parsed.has_anomaly(AnomalyKind::header_leftover));
}

TEST_CASE("lenient: ids outside the vocabulary and undecodable headers") {
  std::vector<TokenId> ids = encode_all("<|channel|>final<|message|>a");
  ids.push_back(-5);
  ids.push_back(999999);
  for (TokenId id : encode_all("b<|return|>")) ids.push_back(id);
  Parsed parsed = parse(ids, Role::assistant, ParseMode::lenient);
  REQUIRE(parsed.messages.size() == 1);
  CHECK(parsed.messages[0].text() ==
        "a\xef\xbf\xbd\xef\xbf\xbd"
        "b");
  CHECK(parsed.has_anomaly(AnomalyKind::invalid_token));
  // harmony holds everything after an unknown id and emits one U+FFFD at the end.
  Parsed harmony = parse(ids, Role::assistant, ParseMode::strict);
  REQUIRE(harmony.messages.size() == 1);
  CHECK(harmony.messages[0].text() == "a\xef\xbf\xbd");

  std::vector<TokenId> header = encode_all("<|channel|>final");
  header.push_back(9552);  // bytes 20 F0 9F: not UTF-8 on their own
  for (TokenId id : encode_all("<|message|>ok<|end|>")) header.push_back(id);
  Parsed bad_header = parse(header, Role::assistant, ParseMode::lenient);
  REQUIRE(bad_header.messages.size() == 1);
  CHECK(bad_header.messages[0].text() == "ok");
  CHECK(bad_header.has_anomaly(AnomalyKind::undecodable_header));
  CHECK_FALSE(parse(header, Role::assistant, ParseMode::strict).status.ok());
}

TEST_CASE("lenient never fails on random id streams, and strict fails only with a status") {
  std::mt19937 rng(7);
  const std::vector<TokenId> specials{200002, 200003, 200005, 200006, 200007, 200008, 200012, 199998, 200014};
  for (int round = 0; round < 300; ++round) {
    std::vector<TokenId> ids;
    const int n = static_cast<int>(rng() % 64);
    for (int i = 0; i < n; ++i) {
      const unsigned pick = rng() % 10;
      if (pick < 4)
        ids.push_back(specials[rng() % specials.size()]);
      else if (pick < 5)
        ids.push_back(static_cast<TokenId>(rng()));  // anything, negative and huge included
      else
        ids.push_back(static_cast<TokenId>(rng() % 201088));
    }
    const std::optional<Role> role = round % 2 ? std::optional<Role>(Role::assistant) : std::nullopt;
    Parsed lenient = parse(ids, role, ParseMode::lenient);
    CHECK(lenient.status.ok());
    for (ParseMode mode : {ParseMode::strict, ParseMode::harmony_lenient}) {
      Parsed other = parse(ids, role, mode);
      if (!other.status.ok()) CHECK(other.status.code() == StatusCode::invalid_argument);
    }
  }
}
