// ossrt_conversation_*, ossrt_harmony_*: translation to ossrt::harmony.
#include <string>
#include <vector>

#include "capi_common.h"

using namespace ossrt;
using namespace ossrt::harmony;

namespace {

std::optional<Role> role_from_c(ossrt_role role) {
  if (role < OSSRT_ROLE_SYSTEM || role > OSSRT_ROLE_TOOL) return std::nullopt;
  return static_cast<Role>(role);  // the C values follow harmony::Role's order
}

std::optional<std::string> optional_string(const char* text) {
  return text ? std::optional<std::string>(text) : std::nullopt;
}

ossrt_status fill_text(const std::string& text, char* out, size_t cap, size_t* n_out) {
  return capi::fill_buffer(text.data(), text.size(), out, cap, n_out);
}

}  // namespace

namespace ossrt::capi {

namespace {

const char* c_string(const std::optional<std::string>& text) {
  return text ? text->c_str() : nullptr;
}

}  // namespace

ossrt_harmony_event c_event(const ParseEvent& e) noexcept {
  ossrt_harmony_event c{};
  c.struct_size = sizeof(ossrt_harmony_event);
  c.kind = static_cast<ossrt_event_kind>(e.kind);
  c.position = e.position;
  c.message_index = e.message_index;
  c.role = static_cast<ossrt_role>(e.role);
  c.name = c_string(e.name);
  c.channel = c_string(e.channel);
  c.recipient = c_string(e.recipient);
  c.content_type = c_string(e.content_type);
  c.text = e.text.c_str();
  c.text_len = e.text.size();
  c.anomaly = e.kind == ParseEvent::Kind::anomaly ? anomaly_kind_name(e.anomaly) : nullptr;
  return c;
}

}  // namespace ossrt::capi

extern "C" {

ossrt_status ossrt_conversation_create(ossrt_conversation** conversation_out) {
  if (conversation_out == nullptr) return capi::invalid_argument("ossrt_conversation_create: conversation_out is NULL");
  *conversation_out = nullptr;
  return capi::barrier("ossrt_conversation_create", [&] {
    *conversation_out = capi::adopt(new ossrt_conversation{});
    return capi::report(Status::success());
  });
}

ossrt_status ossrt_conversation_from_json(const char* json, size_t len, ossrt_conversation** conversation_out) {
  if (conversation_out == nullptr || (json == nullptr && len > 0))
    return capi::invalid_argument("ossrt_conversation_from_json: NULL argument or released handle");
  *conversation_out = nullptr;
  return capi::barrier("ossrt_conversation_from_json", [&] {
    auto conversation = conversation_from_json(std::string_view(json == nullptr ? "" : json, len));
    if (!conversation.ok()) return capi::report(conversation.status());
    *conversation_out = capi::adopt(new ossrt_conversation{std::move(conversation).value()});
    return capi::report(Status::success());
  });
}

void ossrt_conversation_destroy(ossrt_conversation* conversation) {
  capi::destroy(conversation);
}

ossrt_status ossrt_conversation_size(const ossrt_conversation* conversation, size_t* n_messages) {
  if (!capi::live(conversation) || n_messages == nullptr)
    return capi::invalid_argument("ossrt_conversation_size: NULL argument or released handle");
  *n_messages = conversation->messages.size();
  return capi::report(Status::success());
}

ossrt_status ossrt_conversation_to_json(const ossrt_conversation* conversation, char* out, size_t cap, size_t* n_out) {
  if (!capi::live(conversation) || n_out == nullptr || (out == nullptr && cap > 0))
    return capi::invalid_argument("ossrt_conversation_to_json: NULL argument or released handle");
  return capi::barrier("ossrt_conversation_to_json",
                       [&] { return fill_text(to_json(conversation->messages), out, cap, n_out); });
}

void ossrt_system_options_init(ossrt_system_options* options) {
  if (options == nullptr) return;
  *options = ossrt_system_options{};
  options->struct_size = sizeof(ossrt_system_options);
  options->model_identity = "You are ChatGPT, a large language model trained by OpenAI.";
  options->reasoning_effort = OSSRT_EFFORT_MEDIUM;
  options->knowledge_cutoff = "2024-06";
}

ossrt_status ossrt_conversation_add_system(ossrt_conversation* conversation, const ossrt_system_options* options) {
  if (!capi::live(conversation))
    return capi::invalid_argument("ossrt_conversation_add_system: conversation is NULL or released");
  if (ossrt_status st = capi::check_options(options, "ossrt_conversation_add_system"); st != OSSRT_STATUS_OK) return st;
  return capi::barrier("ossrt_conversation_add_system", [&] {
    ossrt_system_options defaults;
    ossrt_system_options_init(&defaults);
    const ossrt_system_options o = capi::read_versioned(options, defaults);
    if (o.reasoning_effort < OSSRT_EFFORT_LOW || o.reasoning_effort > OSSRT_EFFORT_HIGH)
      return capi::invalid_argument("ossrt_conversation_add_system: reasoning_effort must be an OSSRT_EFFORT_* value");
    SystemContent system = SystemContent::defaults();
    system.model_identity = optional_string(o.model_identity);
    system.reasoning_effort = static_cast<ReasoningEffort>(o.reasoning_effort);
    system.knowledge_cutoff = optional_string(o.knowledge_cutoff);
    system.conversation_start_date = optional_string(o.conversation_start_date);
    if (o.browser_tool) system.with_browser_tool();
    if (o.python_tool) system.with_python_tool();
    conversation->messages.push_back(Message::from_role_and_content(Role::system, std::move(system)));
    return capi::report(Status::success());
  });
}

ossrt_status ossrt_conversation_add_developer(ossrt_conversation* conversation, const char* instructions,
                                              const char* function_tools_json) {
  if (!capi::live(conversation))
    return capi::invalid_argument("ossrt_conversation_add_developer: conversation is NULL or released");
  return capi::barrier("ossrt_conversation_add_developer", [&] {
    DeveloperContent developer;
    developer.instructions = optional_string(instructions);
    if (function_tools_json != nullptr) {
      auto tools = JsonValue::parse(function_tools_json, 128);
      if (!tools.ok()) return capi::report(tools.status());
      JsonValue ns = JsonValue::object({{"name", JsonValue::string("functions")}, {"tools", tools.value()}});
      auto parsed = tool_namespace_from_json_value(ns);
      if (!parsed.ok()) return capi::report(parsed.status());
      developer.with_tools(std::move(parsed).value());
    }
    conversation->messages.push_back(Message::from_role_and_content(Role::developer, std::move(developer)));
    return capi::report(Status::success());
  });
}

ossrt_status ossrt_conversation_add_message(ossrt_conversation* conversation, ossrt_role role, const char* name,
                                            const char* channel, const char* recipient, const char* content_type,
                                            const char* text, size_t len) {
  if (!capi::live(conversation) || (text == nullptr && len > 0))
    return capi::invalid_argument("ossrt_conversation_add_message: NULL argument or released handle");
  const auto parsed_role = role_from_c(role);
  if (!parsed_role) return capi::invalid_argument("ossrt_conversation_add_message: role must be an OSSRT_ROLE_* value");
  return capi::barrier("ossrt_conversation_add_message", [&] {
    Message message = Message::from_role_and_content(*parsed_role, std::string(text == nullptr ? "" : text, len));
    message.author.name = optional_string(name);
    message.channel = optional_string(channel);
    message.recipient = optional_string(recipient);
    message.content_type = optional_string(content_type);
    conversation->messages.push_back(std::move(message));
    return capi::report(Status::success());
  });
}

ossrt_status ossrt_conversation_add_user(ossrt_conversation* conversation, const char* text, size_t len) {
  if (!capi::live(conversation) || (text == nullptr && len > 0))
    return capi::invalid_argument("ossrt_conversation_add_user: NULL argument or released handle");
  return capi::barrier("ossrt_conversation_add_user", [&] {
    conversation->messages.push_back(
        Message::from_role_and_content(Role::user, std::string(text == nullptr ? "" : text, len)));
    return capi::report(Status::success());
  });
}

ossrt_status ossrt_conversation_add_tool_result(ossrt_conversation* conversation, const char* tool_name,
                                                const char* text, size_t len) {
  if (!capi::live(conversation) || (text == nullptr && len > 0))
    return capi::invalid_argument("ossrt_conversation_add_tool_result: NULL argument or released handle");
  if (tool_name == nullptr || *tool_name == '\0')
    return capi::invalid_argument(
        "ossrt_conversation_add_tool_result: tool_name is NULL or empty (pass the call's recipient, e.g. "
        "\"functions.get_weather\")");
  return capi::barrier("ossrt_conversation_add_tool_result", [&] {
    add_tool_result(conversation->messages, tool_name, std::string(text == nullptr ? "" : text, len));
    return capi::report(Status::success());
  });
}

ossrt_status ossrt_conversation_set_reasoning_effort(ossrt_conversation* conversation, ossrt_reasoning_effort effort) {
  if (!capi::live(conversation))
    return capi::invalid_argument("ossrt_conversation_set_reasoning_effort: conversation is NULL or released");
  if (effort < OSSRT_EFFORT_LOW || effort > OSSRT_EFFORT_HIGH)
    return capi::invalid_argument("ossrt_conversation_set_reasoning_effort: effort must be an OSSRT_EFFORT_* value");
  return capi::barrier("ossrt_conversation_set_reasoning_effort", [&] {
    set_reasoning_effort(conversation->messages, static_cast<ReasoningEffort>(effort));
    return capi::report(Status::success());
  });
}

void ossrt_render_options_init(ossrt_render_options* options) {
  if (options == nullptr) return;
  *options = ossrt_render_options{};
  options->struct_size = sizeof(ossrt_render_options);
  options->kind = OSSRT_RENDER_COMPLETION;
  options->next_role = OSSRT_ROLE_ASSISTANT;
  options->auto_drop_analysis = 1;
}

ossrt_status ossrt_harmony_render(const ossrt_tokenizer* tokenizer, const ossrt_conversation* conversation,
                                  const ossrt_render_options* options, int32_t* out, size_t cap, size_t* n_out) {
  if (!capi::live(tokenizer) || !capi::live(conversation) || n_out == nullptr || (out == nullptr && cap > 0))
    return capi::invalid_argument("ossrt_harmony_render: NULL argument or released handle");
  if (ossrt_status st = capi::check_options(options, "ossrt_harmony_render"); st != OSSRT_STATUS_OK) return st;
  return capi::barrier("ossrt_harmony_render", [&] {
    ossrt_render_options defaults;
    ossrt_render_options_init(&defaults);
    const ossrt_render_options o = capi::read_versioned(options, defaults);
    const Renderer renderer(tokenizer->tokenizer);
    RenderConversationConfig config;
    config.auto_drop_analysis = o.auto_drop_analysis != 0;
    Result<std::vector<TokenId>> ids = Status(StatusCode::invalid_argument, "");
    if (o.kind == OSSRT_RENDER_COMPLETION) {
      const auto next_role = role_from_c(o.next_role);
      if (!next_role) return capi::invalid_argument("ossrt_harmony_render: next_role must be an OSSRT_ROLE_* value");
      ids = renderer.render_conversation_for_completion(conversation->messages, *next_role, config);
    } else if (o.kind == OSSRT_RENDER_TRAINING) {
      ids = renderer.render_conversation_for_training(conversation->messages, config);
    } else if (o.kind == OSSRT_RENDER_CONVERSATION) {
      ids = renderer.render_conversation(conversation->messages, config);
    } else {
      return capi::invalid_argument("ossrt_harmony_render: kind must be an OSSRT_RENDER_* value");
    }
    if (!ids.ok()) return capi::report(ids.status());
    return capi::fill_buffer(ids.value().data(), ids.value().size(), out, cap, n_out);
  });
}

ossrt_status ossrt_harmony_stop_tokens(int32_t for_assistant_actions, int32_t* out, size_t cap, size_t* n_out) {
  if (n_out == nullptr || (out == nullptr && cap > 0))
    return capi::invalid_argument("ossrt_harmony_stop_tokens: NULL argument or released handle");
  return capi::barrier("ossrt_harmony_stop_tokens", [&] {
    auto tokenizer = Tokenizer::o200k_harmony();
    if (!tokenizer.ok()) return capi::report(tokenizer.status());
    const Renderer renderer(tokenizer.value());
    const std::vector<TokenId> ids =
        for_assistant_actions ? renderer.stop_tokens_for_assistant_actions() : renderer.stop_tokens();
    return capi::fill_buffer(ids.data(), ids.size(), out, cap, n_out);
  });
}

ossrt_status ossrt_harmony_parser_create(const ossrt_tokenizer* tokenizer, ossrt_role role, ossrt_parse_mode mode,
                                         ossrt_harmony_parser** parser_out) {
  if (parser_out == nullptr || !capi::live(tokenizer))
    return capi::invalid_argument("ossrt_harmony_parser_create: NULL argument or released handle");
  *parser_out = nullptr;
  const auto parsed_role = role_from_c(role);
  if (role != OSSRT_ROLE_NONE && !parsed_role)
    return capi::invalid_argument("ossrt_harmony_parser_create: role must be an OSSRT_ROLE_* value");
  ParseMode parse_mode;
  switch (mode) {
    case OSSRT_PARSE_LENIENT:
      parse_mode = ParseMode::lenient;
      break;
    case OSSRT_PARSE_STRICT:
      parse_mode = ParseMode::strict;
      break;
    case OSSRT_PARSE_HARMONY_LENIENT:
      parse_mode = ParseMode::harmony_lenient;
      break;
    default:
      return capi::invalid_argument("ossrt_harmony_parser_create: mode must be an OSSRT_PARSE_* value");
  }
  return capi::barrier("ossrt_harmony_parser_create", [&] {
    *parser_out =
        capi::adopt(new ossrt_harmony_parser{StreamParser(tokenizer->tokenizer, parsed_role, parse_mode), {}, 0, {}});
    return capi::report(Status::success());
  });
}

void ossrt_harmony_parser_destroy(ossrt_harmony_parser* parser) {
  capi::destroy(parser);
}

ossrt_status ossrt_harmony_parser_push(ossrt_harmony_parser* parser, int32_t token) {
  if (!capi::live(parser)) return capi::invalid_argument("ossrt_harmony_parser_push: parser is NULL or released");
  return capi::barrier("ossrt_harmony_parser_push",
                       [&] { return capi::report(parser->parser.push(token, &parser->queue)); });
}

ossrt_status ossrt_harmony_parser_finish(ossrt_harmony_parser* parser) {
  if (!capi::live(parser)) return capi::invalid_argument("ossrt_harmony_parser_finish: parser is NULL or released");
  return capi::barrier("ossrt_harmony_parser_finish",
                       [&] { return capi::report(parser->parser.finish(&parser->queue)); });
}

void ossrt_harmony_event_init(ossrt_harmony_event* event) {
  capi::init_output(event);
}

int32_t ossrt_harmony_parser_next_event(ossrt_harmony_parser* parser, ossrt_harmony_event* event) {
  constexpr int32_t kRefused = -1;  // a status, not a count: the event stays queued
  // NULL arguments answer 0 as ABI v1 promised, so `while (next_event(...))` loops written to it still end.
  if (!capi::live(parser)) {
    capi::invalid_argument("ossrt_harmony_parser_next_event: parser is NULL or released");
    return 0;
  }
  if (event == nullptr) {
    capi::invalid_argument("ossrt_harmony_parser_next_event: event is NULL");
    return 0;
  }
  // Every caller reads kind at least; a smaller struct_size would drop the event unseen.
  if (capi::check_output(event, "ossrt_harmony_parser_next_event", "event", 2) != OSSRT_STATUS_OK) return kRefused;
  capi::report(Status::success());
  if (parser->next >= parser->queue.size()) return 0;
  parser->current = std::move(parser->queue[parser->next++]);
  if (parser->next == parser->queue.size()) {
    parser->queue.clear();
    parser->next = 0;
  }
  const ossrt_harmony_event c = capi::c_event(parser->current);
  capi::copy_versioned(c, event);
  return 1;
}

ossrt_status ossrt_harmony_parser_messages_json(const ossrt_harmony_parser* parser, char* out, size_t cap,
                                                size_t* n_out) {
  if (!capi::live(parser) || n_out == nullptr || (out == nullptr && cap > 0))
    return capi::invalid_argument("ossrt_harmony_parser_messages_json: NULL argument or released handle");
  return capi::barrier("ossrt_harmony_parser_messages_json",
                       [&] { return fill_text(to_json(parser->parser.messages()), out, cap, n_out); });
}

ossrt_status ossrt_harmony_parser_append_to(const ossrt_harmony_parser* parser, ossrt_conversation* conversation) {
  if (!capi::live(parser) || !capi::live(conversation))
    return capi::invalid_argument("ossrt_harmony_parser_append_to: NULL argument or released handle");
  return capi::barrier("ossrt_harmony_parser_append_to", [&] {
    const auto& messages = parser->parser.messages();
    conversation->messages.insert(conversation->messages.end(), messages.begin(), messages.end());
    return capi::report(Status::success());
  });
}

}  // extern "C"
