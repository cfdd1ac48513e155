// ossrt-bench-harmony: how long rendering a long multi-turn conversation with
// tools takes (the prompt is re-rendered every turn of a chat), and how fast
// the streaming parser consumes model output.
//
//   ossrt-bench-harmony [--turns N] [--json]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ossrt/harmony.hpp"

namespace {

using namespace ossrt;
using namespace ossrt::harmony;
using Clock = std::chrono::steady_clock;

const char* const kWeatherSchema = R"({"type": "object", "properties": {
  "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
  "format": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
  "days": {"type": "integer", "description": "Forecast length", "default": 1},
  "detail": {"oneOf": [{"type": "string", "description": "a preset"}, {"type": "number", "nullable": true}]}},
  "required": ["location"]})";

Conversation long_conversation(int turns) {
  Conversation conversation;
  SystemContent system = SystemContent::defaults();
  system.with_conversation_start_date("2026-11-23").with_browser_tool().with_python_tool();
  conversation.push_back(Message::from_role_and_content(Role::system, std::move(system)));
  auto schema = JsonValue::parse(kWeatherSchema);
  DeveloperContent developer;
  developer.with_instructions("Answer concisely. Use the tools when the user asks about weather.")
      .with_function_tools({{"get_weather", "Gets the current weather in the provided location.", schema.value()},
                            {"get_location", "Gets the location of the user.", std::nullopt}});
  conversation.push_back(Message::from_role_and_content(Role::developer, std::move(developer)));
  for (int t = 0; t < turns; ++t) {
    const std::string n = std::to_string(t);
    conversation.push_back(Message::from_role_and_content(Role::user, "What is the weather in city " + n + "?"));
    conversation.push_back(Message::from_role_and_content(
                               Role::assistant, "The user asks about city " + n + ". I should call get_weather.")
                               .with_channel("analysis"));
    Message call = Message::from_role_and_content(Role::assistant, R"({"location": "City )" + n + R"("})");
    call.with_channel("commentary").with_recipient("functions.get_weather").with_content_type("<|constrain|>json");
    conversation.push_back(call);
    conversation.push_back(Message::tool_result(call, R"({"temperature": 21, "sky": "clear", "wind_kmh": 12})"));
    conversation.push_back(
        Message::from_role_and_content(Role::assistant, "It is 21 °C and clear in city " + n + ", with a light wind.")
            .with_channel("final"));
  }
  conversation.push_back(Message::from_role_and_content(Role::user, "Thanks! And tomorrow?"));
  return conversation;
}

template <class Body>
double microseconds_per_call(Body&& body) {
  body();  // warm caches
  int iterations = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    body();
    ++iterations;
    elapsed = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  } while (elapsed < 500000 && iterations < 100000);
  return elapsed / iterations;
}

}  // namespace

int main(int argc, char** argv) {
  int turns = 20;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (std::strcmp(argv[i], "--turns") == 0 && i + 1 < argc) {
      turns = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: ossrt-bench-harmony [--turns N] [--json]\n");
      return 2;
    }
  }
  auto renderer = Renderer::create();
  if (!renderer.ok()) {
    std::fprintf(stderr, "%s\n", renderer.status().to_string().c_str());
    return 1;
  }
  const Conversation conversation = long_conversation(turns);
  auto prompt = renderer.value().render_conversation_for_completion(conversation, Role::assistant);
  if (!prompt.ok()) {
    std::fprintf(stderr, "%s\n", prompt.status().to_string().c_str());
    return 1;
  }
  const double render_us = microseconds_per_call([&] {
    auto ids = renderer.value().render_conversation_for_completion(conversation, Role::assistant);
    if (!ids.ok()) std::abort();
  });
  // The history part of the prompt as model output: parsed from its first <|start|>.
  const std::vector<TokenId>& ids = prompt.value();
  const std::vector<TokenId> output(ids.begin(), ids.end() - 2);  // without the trailing <|start|>assistant
  const double parse_us = microseconds_per_call([&] {
    StreamParser parser(renderer.value().tokenizer(), std::nullopt, ParseMode::lenient);
    std::vector<ParseEvent> events;
    for (TokenId id : output) {
      events.clear();
      if (!parser.push(id, &events).ok()) std::abort();
    }
    if (!parser.finish(&events).ok() || parser.messages().size() != conversation.size() - 1) std::abort();
  });
  const double parse_tokens_per_s = output.size() / (parse_us * 1e-6);
  if (json) {
    std::printf(
        "{\"messages\":%zu,\"turns\":%d,\"prompt_tokens\":%zu,\"render_us\":%.1f,\"render_tokens_per_s\":%.0f,"
        "\"parse_us\":%.1f,\"parse_tokens_per_s\":%.0f}\n",
        conversation.size(), turns, ids.size(), render_us, ids.size() / (render_us * 1e-6), parse_us,
        parse_tokens_per_s);
  } else {
    std::printf("harmony: %zu messages (%d tool-calling turns, browser + python + functions), %zu prompt tokens\n",
                conversation.size(), turns, ids.size());
    std::printf("%-34s %12s %16s\n", "operation", "us/call", "tokens/s");
    std::printf("%-34s %12.1f %16.0f\n", "render_conversation_for_completion", render_us,
                ids.size() / (render_us * 1e-6));
    std::printf("%-34s %12.1f %16.0f\n", "StreamParser (lenient, events)", parse_us, parse_tokens_per_s);
  }
  return 0;
}
