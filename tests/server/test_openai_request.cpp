// OpenAI request bodies to harmony conversations, and every way they are refused.
#include <doctest/doctest.h>

#include "openai_request.h"

namespace {

using namespace ossrt_server;
using ossrt::harmony::Role;

GenerationRequest accepted(std::string_view body, ParsedRequest (*parse)(std::string_view)) {
  ParsedRequest parsed = parse(body);
  if (const auto* error = std::get_if<ApiError>(&parsed)) FAIL("refused: " << error->message);
  return std::get<GenerationRequest>(std::move(parsed));
}

ApiError refused(std::string_view body, ParsedRequest (*parse)(std::string_view) = parse_chat_completion_request) {
  ParsedRequest parsed = parse(body);
  REQUIRE_MESSAGE(std::holds_alternative<ApiError>(parsed), body);
  return std::get<ApiError>(parsed);
}

TEST_CASE("chat request: roles, reasoning, tool calls and results become harmony messages") {
  const GenerationRequest request = accepted(R"({
    "model": "m", "reasoning_effort": "high", "temperature": 0.5, "top_p": 0.9, "seed": 7,
    "max_completion_tokens": 33, "stop": ["END"], "stream": true, "stream_options": {"include_usage": true},
    "tools": [{"type": "function", "function": {"name": "get_weather", "description": "w",
               "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "text", "text": "Weather"}, {"type": "text", "text": "?"}]},
      {"role": "assistant", "reasoning_content": "Call the tool.", "content": null,
       "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
      {"role": "tool", "tool_call_id": "c1", "content": "sunny"}
    ]})",
                                             parse_chat_completion_request);
  CHECK(request.model == "m");
  CHECK(request.sampling.temperature == 0.5f);
  CHECK(request.sampling.top_p == 0.9f);
  CHECK(request.sampling.seed == 7);
  CHECK(request.max_tokens == 33u);
  CHECK(request.stop == std::vector<std::string>{"END"});
  CHECK(request.stream);
  CHECK(request.include_usage);
  const auto& c = request.conversation;
  REQUIRE(c.size() == 6);
  const auto* system = std::get_if<ossrt::harmony::SystemContent>(&c[0].content.at(0));
  REQUIRE(system);
  CHECK(system->reasoning_effort == ossrt::harmony::ReasoningEffort::high);
  const auto* developer = std::get_if<ossrt::harmony::DeveloperContent>(&c[1].content.at(0));
  REQUIRE(developer);
  CHECK(developer->instructions == "Be brief.");
  REQUIRE(developer->tools);
  CHECK(developer->tools->at("functions").tools.at(0).name == "get_weather");
  CHECK(c[2].author.role == Role::user);
  CHECK(c[2].text() == "Weather?");
  CHECK(c[3].channel == "analysis");
  CHECK(c[3].text() == "Call the tool.");
  CHECK(c[4].recipient == "functions.get_weather");
  CHECK(c[4].channel == "commentary");
  CHECK(c[4].text() == R"({"city":"Paris"})");
  CHECK(c[5].author.role == Role::tool);
  CHECK(c[5].author.name == "functions.get_weather");
  CHECK(c[5].text() == "sunny");
}

TEST_CASE("chat request: defaults, a final answer in the history, max_tokens") {
  const GenerationRequest request = accepted(
      R"({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"},
                       {"role": "user", "content": "again"}], "max_tokens": 5})",
      parse_chat_completion_request);
  CHECK(request.max_tokens == 5u);
  CHECK_FALSE(request.stream);
  CHECK(request.sampling.temperature == 1.0f);
  REQUIRE(request.conversation.size() == 4);  // system (no developer message), three turns
  CHECK(std::get<ossrt::harmony::SystemContent>(request.conversation[0].content.at(0)).reasoning_effort ==
        ossrt::harmony::ReasoningEffort::medium);
  CHECK(request.conversation[2].channel == "final");
}

TEST_CASE("chat request: what is refused, with the parameter named") {
  struct Case {
    const char* body;
    const char* param;
  };
  const Case cases[] = {
      {R"({"messages": [)", ""},
      {R"([1, 2])", ""},
      {R"({})", "messages"},
      {R"({"messages": []})", "messages"},
      {R"({"messages": [{"content": "x"}]})", "messages[0].role"},
      {R"({"messages": [{"role": "robot", "content": "x"}]})", "messages[0].role"},
      {R"({"messages": [{"role": "user", "content": 3}]})", "messages[0].content"},
      {R"({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]})", "messages[0].content[0].type"},
      {R"({"messages": [{"role": "tool", "tool_call_id": "x", "content": "y"}]})", "messages[0].tool_call_id"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": "hot"})", "temperature"},
      {R"({"messages": [{"role": "user", "content": "x"}], "temperature": 3})", "temperature"},
      {R"({"messages": [{"role": "user", "content": "x"}], "top_p": 0})", "top_p"},
      {R"({"messages": [{"role": "user", "content": "x"}], "seed": -1})", "seed"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 0})", "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "max_tokens": 1.5})", "max_tokens"},
      {R"({"messages": [{"role": "user", "content": "x"}], "n": 2})", "n"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stop": [""]})", "stop"},
      {R"({"messages": [{"role": "user", "content": "x"}], "stream": "yes"})", "stream"},
      {R"({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": "max"})", "reasoning_effort"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": {}})", "tools"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "code"}]})", "tools[0].type"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "a b"}}]})",
       "tools[0].function.name"},
      {R"({"messages": [{"role": "user", "content": "x"}],
           "tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]})",
       "tools[0].function.parameters"},
      {R"({"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema"}})",
       "response_format.json_schema"},
      {R"({"messages": [{"role": "user", "content": "x"}], "tool_choice": "required"})", "tool_choice"},
  };
  for (const Case& c : cases) {
    const ApiError error = refused(c.body);
    CHECK_MESSAGE(error.http_status == 400, c.body);
    CHECK_MESSAGE(error.param == c.param, c.body);
    CHECK_MESSAGE(!error.message.empty(), c.body);
  }
}

TEST_CASE("chat request: a schema nested past harmony's limit is a bad tool schema") {
  std::string schema = R"({"type": "string"})";
  for (int i = 0; i < 140; ++i) schema = R"({"type": "array", "items": )" + schema + "}";
  const ApiError error = refused(R"({"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function",
      "function": {"name": "f", "parameters": )" +
                                 schema + "}}]}");
  CHECK(error.param == "tools[0].function.parameters");
}

TEST_CASE("responses request: input items, instructions, tools, effort") {
  const GenerationRequest request = accepted(R"({
    "model": "m", "instructions": "Be brief.", "reasoning": {"effort": "low"}, "max_output_tokens": 9,
    "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
    "input": [
      {"role": "user", "content": [{"type": "input_text", "text": "Weather?"}]},
      {"type": "reasoning", "content": [{"type": "reasoning_text", "text": "Call it."}]},
      {"type": "function_call", "call_id": "c9", "name": "get_weather", "arguments": "{}"},
      {"type": "function_call_output", "call_id": "c9", "output": "rain"}
    ]})",
                                             parse_responses_request);
  CHECK(request.max_tokens == 9u);
  const auto& c = request.conversation;
  REQUIRE(c.size() == 6);
  CHECK(std::get<ossrt::harmony::SystemContent>(c[0].content.at(0)).reasoning_effort ==
        ossrt::harmony::ReasoningEffort::low);
  CHECK(std::get<ossrt::harmony::DeveloperContent>(c[1].content.at(0)).instructions == "Be brief.");
  CHECK(c[2].text() == "Weather?");
  CHECK(c[3].channel == "analysis");
  CHECK(c[4].recipient == "functions.get_weather");
  CHECK(c[5].author.name == "functions.get_weather");
  CHECK(c[5].text() == "rain");

  const GenerationRequest plain = accepted(R"({"input": "hello"})", parse_responses_request);
  REQUIRE(plain.conversation.size() == 2);
  CHECK(plain.conversation[1].text() == "hello");

  // tool_choice "none": the tools are not declared (no developer message for them), as in chat.
  const GenerationRequest no_tools = accepted(
      R"({"input": "x", "tool_choice": "none", "tools": [{"type": "function", "name": "f", "parameters": {}}]})",
      parse_responses_request);
  CHECK(no_tools.conversation.size() == 2);
  CHECK(refused(R"({"input": "x", "tool_choice": "required"})", parse_responses_request).param == "tool_choice");
}

TEST_CASE("responses request: what is refused") {
  CHECK(refused(R"({})", parse_responses_request).param == "input");
  CHECK(refused(R"({"input": []})", parse_responses_request).param == "input");
  CHECK(refused(R"({"input": [{"type": "image"}]})", parse_responses_request).param == "input[0].type");
  CHECK(refused(R"({"input": [{"role": "tool", "content": "x"}]})", parse_responses_request).param == "input[0].role");
  CHECK(refused(R"({"input": [{"type": "function_call_output", "call_id": "zz", "output": "x"}]})",
                parse_responses_request)
            .param == "input[0].call_id");
  CHECK(refused(R"({"input": "x", "tools": [{"type": "web_search"}]})", parse_responses_request).param ==
        "tools[0].type");
  CHECK(refused(R"({"input": "x", "text": {"format": {"type": "json_schema"}}})", parse_responses_request).param ==
        "text.format.name");
  CHECK(refused(R"({"input": "x", "max_output_tokens": -4})", parse_responses_request).param == "max_output_tokens");
}

// ---- structured output ----

constexpr const char* kCity =
    R"({"type":"object","properties":{"city":{"type":"string","maxLength":12},"n":{"type":"integer"}},)"
    R"("required":["city","n"],"additionalProperties":false})";

std::string chat_with(const std::string& members) {
  return R"({"messages": [{"role": "user", "content": "x"}], )" + members + "}";
}

TEST_CASE("chat request: response_format json_schema, json_object, text; strict function tools") {
  const GenerationRequest schema =
      accepted(chat_with(std::string(R"("response_format": {"type": "json_schema", "json_schema": {"name": "city_count",
                "description": "A city and a number", "strict": true, "schema": )") +
                         kCity + "}}"),
               parse_chat_completion_request);
  CHECK(schema.response_format_schema == kCity);  // compact, in the client's key order
  CHECK(schema.response_format_name == "city_count");
  CHECK(schema.response_format_description == "A city and a number");
  CHECK(schema.strict_tools.empty());

  const GenerationRequest object =
      accepted(chat_with(R"("response_format": {"type": "json_object"})"), parse_chat_completion_request);
  CHECK(object.response_format_schema == R"({"type":"object"})");
  CHECK(object.response_format_name == "json_object");
  CHECK_FALSE(object.response_format_description);

  const GenerationRequest text =
      accepted(chat_with(R"("response_format": {"type": "text"})"), parse_chat_completion_request);
  CHECK(text.response_format_schema.empty());

  const GenerationRequest tools = accepted(chat_with(R"("tools": [
      {"type": "function", "function": {"name": "loose", "parameters": {"type": "string", "format": "ipv4"}}},
      {"type": "function", "function": {"name": "tight", "strict": true, "parameters": {"type": "object"}}},
      {"type": "function", "function": {"name": "bare", "strict": true}},
      {"type": "function", "function": {"name": "off", "strict": false, "parameters": {"type": "object"}}}])"),
                                           parse_chat_completion_request);
  // A non-strict tool's schema is only shown to the model: not compiled, so not refused.
  CHECK(tools.strict_tools == std::vector<std::string>{"tight", "bare"});
  CHECK(tools.response_format_schema.empty());
}

TEST_CASE("chat request: bad response formats and strict tool schemas are refused at parse time") {
  struct Case {
    std::string members;
    const char* param;
    const char* message;  // a part of the message
  };
  const Case cases[] = {
      {R"("response_format": "json")", "response_format", "must be an object"},
      {R"("response_format": {})", "response_format.type", "is required"},
      {R"("response_format": {"type": "xml"})", "response_format.type", "'xml'"},
      {R"("response_format": {"type": "json_schema", "json_schema": []})", "response_format.json_schema",
       "must be an object"},
      {R"("response_format": {"type": "json_schema", "json_schema": {"schema": {}}})",
       "response_format.json_schema.name", "is required"},
      {R"("response_format": {"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}})",
       "response_format.json_schema.name", "letters, digits"},
      {R"("response_format": {"type": "json_schema", "json_schema": {"name": "x"}})",
       "response_format.json_schema.schema", "is required"},
      {R"("response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": "{}"}})",
       "response_format.json_schema.schema", "must be a JSON schema object"},
      {R"("response_format": {"type": "json_schema", "json_schema": {"name": "x", "strict": 1, "schema": {}}})",
       "response_format.json_schema.strict", "must be a boolean"},
      {R"("response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "strin"}}})",
       "response_format.json_schema.schema", "response_format: schema at byte "},
      {R"("response_format": {"type": "json_schema", "json_schema": {"name": "x",
          "schema": {"type": "object", "properties": {"ip": {"type": "string", "format": "ipv4"}}}}})",
       "response_format.json_schema.schema", "ipv4"},
      {R"("tools": [{"type": "function", "function": {"name": "f", "strict": true,
          "parameters": {"type": "string", "format": "ipv4"}}}])",
       "tools[0].function.parameters", "strict tool 'f' parameters: schema at byte "},
      {R"("tools": [{"type": "function", "function": {"name": "f", "strict": "yes"}}])", "tools[0].function.strict",
       "must be a boolean"},
  };
  for (const Case& c : cases) {
    const ApiError error = refused(chat_with(c.members));
    CHECK_MESSAGE(error.http_status == 400, c.members);
    CHECK_MESSAGE(error.param == c.param, c.members);
    CHECK_MESSAGE(error.message.find(c.message) != std::string::npos, c.members, " -> ", error.message);
  }
}

TEST_CASE("responses request: text.format json_schema (flat) and json_object; strict function tools") {
  const GenerationRequest schema =
      accepted(std::string(R"({"input": "x", "text": {"format": {"type": "json_schema", "name": "city_count",
               "strict": true, "schema": )") +
                   kCity + R"(}}, "tools": [{"type": "function", "name": "f", "strict": true,
               "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}}}]})",
               parse_responses_request);
  CHECK(schema.response_format_schema == kCity);
  CHECK(schema.response_format_name == "city_count");
  CHECK(schema.strict_tools == std::vector<std::string>{"f"});
  const GenerationRequest object =
      accepted(R"({"input": "x", "text": {"format": {"type": "json_object"}}})", parse_responses_request);
  CHECK(object.response_format_schema == R"({"type":"object"})");

  const ApiError bad = refused(R"({"input": "x", "text": {"format": {"type": "json_schema", "name": "x",
      "schema": {"type": "object", "minProperties": 1}}}})",
                               parse_responses_request);
  CHECK(bad.param == "text.format.schema");
  CHECK(bad.message.rfind("response_format: schema at byte ", 0) == 0);
  CHECK(refused(R"({"input": "x", "tools": [{"type": "function", "name": "f", "strict": true,
      "parameters": {"type": "string", "pattern": "(?<=a)b"}}]})",
                parse_responses_request)
            .param == "tools[0].parameters");
}

}  // namespace

TEST_CASE("responses request: the settings a Response object repeats, given or defaulted") {
  const GenerationRequest full = accepted(R"({"input": "x", "instructions": "Be brief.", "max_output_tokens": 9,
    "temperature": 0.5, "top_p": 0.25, "tool_choice": "auto", "parallel_tool_calls": false,
    "metadata": {"k": "v"}, "reasoning": {"effort": "high"},
    "text": {"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}}},
    "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}]})",
                                          parse_responses_request);
  CHECK(full.response_echo.dump() ==
        R"({"instructions":"Be brief.","max_output_tokens":9,"temperature":0.5,"top_p":0.25,)"
        R"("tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],"tool_choice":"auto",)"
        R"("parallel_tool_calls":false,"reasoning":{"effort":"high","summary":null},)"
        R"("text":{"format":{"type":"json_schema","name":"n","schema":{"type":"object"}}},"metadata":{"k":"v"}})");
  const GenerationRequest plain = accepted(R"({"input": "x", "instructions": null})", parse_responses_request);
  CHECK(plain.response_echo.dump() ==
        R"({"instructions":null,"max_output_tokens":null,"temperature":1,"top_p":1,"tools":[],"tool_choice":"auto",)"
        R"("parallel_tool_calls":true,"reasoning":{"effort":"medium","summary":null},)"
        R"("text":{"format":{"type":"text"}},"metadata":{}})");
  // Chat requests carry none.
  CHECK(accepted(R"({"messages": [{"role": "user", "content": "x"}]})", parse_chat_completion_request)
            .response_echo.is_null());
}
