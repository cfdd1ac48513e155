// Writes what constrained chats produce, for the ajv check: for every schema
// of the corpus, on the scripted weather model (it calls get_weather, then
// answers), N two-turn chats (temperature 1 and 1.5 alternately) with
// get_weather strict under the schema and the schema as the response format;
// the call's arguments and the final answer of each go to one JSON line
// {"schema": <schema>, "outputs": [<text>...]}. A turn cut short by its token
// limit (a long random string) is counted, not written; a chat that breaks
// harmony's structure (no call, no final answer) fails the run.
//
//   ossrt-structured-chat-samples SCHEMAS.jsonl OUT.jsonl N WEATHER_MODEL_DIR
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "ossrt/chat.hpp"
#include "ossrt/json.hpp"
#include "ossrt/model.hpp"

using namespace ossrt;
using namespace ossrt::harmony;

namespace {

int failed(const std::string& what) {
  std::fprintf(stderr, "%s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) return failed("usage: ossrt-structured-chat-samples SCHEMAS.jsonl OUT.jsonl N WEATHER_MODEL_DIR");
  const int per_schema = std::atoi(argv[3]);
  auto model = Model::load(argv[4]);
  if (!model.ok()) return failed(model.status().to_string());
  auto renderer = Renderer::create();
  if (!renderer.ok()) return failed(renderer.status().to_string());
  std::ifstream in(argv[1]);
  std::ofstream out(argv[2]);
  size_t written = 0, cut = 0;
  for (std::string schema; std::getline(in, schema);) {
    if (schema.empty()) continue;
    auto parameters = JsonValue::parse(schema);
    if (!parameters.ok()) return failed(schema + ": " + parameters.status().to_string());
    std::string line = "{\"schema\":" + schema + ",\"outputs\":[";
    bool first = true;
    auto keep = [&](const std::string& text) {
      if (!first) line += ',';
      first = false;
      append_json_string(line, text);
      ++written;
    };
    for (int i = 0; i < per_schema; ++i) {
      auto session = Session::create(model.value());
      if (!session.ok()) return failed(session.status().to_string());
      SamplerOptions sampling;
      sampling.seed = static_cast<uint64_t>(i);
      sampling.temperature = i % 2 == 0 ? 1.0f : 1.5f;
      const Sampler sampler = Sampler::create(sampling).value();
      Conversation conversation{
          Message::from_role_and_content(Role::system, SystemContent::defaults()),
          Message::from_role_and_content(Role::developer, DeveloperContent{}.with_function_tools(
                                                              {{"get_weather", "Weather.", parameters.value()}})),
          Message::from_role_and_content(Role::user, "What is the weather in Paris?")};
      ChatOptions options;
      options.max_tokens = 300;
      options.strict_tools = {"get_weather"};
      options.response_format_schema = schema;
      auto call = chat_turn(*session.value(), renderer.value(), conversation, sampler, options);
      if (!call.ok()) return failed(schema + ": " + call.status().to_string());
      if (call.value().finish_reason == FinishReason::length) {
        ++cut;
        continue;
      }
      if (!call.value().tool_call) return failed(schema + ": the first turn made no call");
      keep(call.value().tool_call->arguments);
      add_tool_result(conversation, call.value().tool_call->recipient, "{\"forecast\":\"sunny\"}");
      auto answer = chat_turn(*session.value(), renderer.value(), conversation, sampler, options);
      if (!answer.ok()) return failed(schema + ": " + answer.status().to_string());
      if (answer.value().finish_reason == FinishReason::length) {
        ++cut;
        continue;
      }
      if (answer.value().finish_reason != FinishReason::stop || answer.value().messages.empty() ||
          answer.value().messages.back().channel != std::optional<std::string>("final"))
        return failed(schema + ": the second turn gave no final answer");
      keep(answer.value().messages.back().text());
    }
    out << line << "]}\n";
  }
  std::printf("%zu outputs written, %zu turns cut at their token limit\n", written, cut);
  return written > 0 ? 0 : 1;
}
