// Conversation values: names, builders, tool calls, harmony's built-in tools.
#include <algorithm>

#include "harmony/conversation_json.h"
#include "ossrt/harmony.hpp"

namespace ossrt::harmony {
namespace {

// builtin_tool_namespaces.inc defines kBuiltinToolNamespacesJson, generated
// at build time from lib/harmony/data/builtin_tool_namespaces.json.
#include "builtin_tool_namespaces.inc"

const ToolNamespace& builtin_namespace(const char* key) {
  static const auto namespaces = [] {
    std::map<std::string, ToolNamespace, std::less<>> parsed;
    auto root = JsonValue::parse(kBuiltinToolNamespacesJson);
    if (!root.ok()) return parsed;  // the unit tests prove the compiled-in text parses
    for (const JsonMember& member : root.value().members()) {
      auto ns = namespace_from_json_value(member.value, member.key);
      if (ns.ok()) parsed.emplace(member.key, std::move(ns).value());
    }
    return parsed;
  }();
  static const ToolNamespace empty;
  auto it = namespaces.find(key);
  return it == namespaces.end() ? empty : it->second;
}

}  // namespace

const char* role_name(Role role) noexcept {
  switch (role) {
    case Role::system:
      return "system";
    case Role::developer:
      return "developer";
    case Role::user:
      return "user";
    case Role::assistant:
      return "assistant";
    case Role::tool:
      return "tool";
  }
  return "user";
}

std::optional<Role> role_from_name(std::string_view name) noexcept {
  for (Role role : {Role::system, Role::developer, Role::user, Role::assistant, Role::tool})
    if (name == role_name(role)) return role;
  return std::nullopt;
}

const char* reasoning_effort_name(ReasoningEffort effort) noexcept {
  switch (effort) {
    case ReasoningEffort::low:
      return "low";
    case ReasoningEffort::medium:
      return "medium";
    case ReasoningEffort::high:
      return "high";
  }
  return "medium";
}

ToolNamespace ToolNamespace::browser() {
  return builtin_namespace("browser");
}
ToolNamespace ToolNamespace::python() {
  return builtin_namespace("python");
}

ChannelConfig ChannelConfig::require(std::vector<std::string> channels) {
  ChannelConfig config;
  config.valid_channels = std::move(channels);
  config.channel_required = true;
  return config;
}

SystemContent SystemContent::defaults() {
  SystemContent content;
  content.model_identity = "You are ChatGPT, a large language model trained by OpenAI.";
  content.reasoning_effort = ReasoningEffort::medium;
  content.knowledge_cutoff = "2024-06";
  content.channel_config = ChannelConfig::require({"analysis", "commentary", "final"});
  return content;
}

SystemContent& SystemContent::with_model_identity(std::string identity) {
  model_identity = std::move(identity);
  return *this;
}

SystemContent& SystemContent::with_reasoning_effort(ReasoningEffort effort) {
  reasoning_effort = effort;
  return *this;
}

SystemContent& SystemContent::with_conversation_start_date(std::string date) {
  conversation_start_date = std::move(date);
  return *this;
}

SystemContent& SystemContent::with_knowledge_cutoff(std::string cutoff) {
  knowledge_cutoff = std::move(cutoff);
  return *this;
}

SystemContent& SystemContent::with_required_channels(std::vector<std::string> channels) {
  channel_config = ChannelConfig::require(std::move(channels));
  return *this;
}

SystemContent& SystemContent::with_channel_config(ChannelConfig config) {
  channel_config = std::move(config);
  return *this;
}

SystemContent& SystemContent::with_tools(ToolNamespace ns) {
  if (!tools) tools.emplace();
  std::string key = ns.name;
  (*tools)[key] = std::move(ns);
  return *this;
}

SystemContent& SystemContent::with_browser_tool() {
  return with_tools(ToolNamespace::browser());
}
SystemContent& SystemContent::with_python_tool() {
  return with_tools(ToolNamespace::python());
}

DeveloperContent& DeveloperContent::with_instructions(std::string text) {
  instructions = std::move(text);
  return *this;
}

DeveloperContent& DeveloperContent::with_function_tools(std::vector<ToolDescription> function_tools) {
  ToolNamespace ns;
  ns.name = "functions";
  ns.tools = std::move(function_tools);
  return with_tools(std::move(ns));
}

DeveloperContent& DeveloperContent::with_tools(ToolNamespace ns) {
  if (!tools) tools.emplace();
  std::string key = ns.name;
  (*tools)[key] = std::move(ns);
  return *this;
}

DeveloperContent& DeveloperContent::with_response_format(ResponseFormat format) {
  response_formats.push_back(std::move(format));
  return *this;
}

Message Message::from_role_and_content(Role role, Content content) {
  return from_author_and_content(Author{role, std::nullopt}, std::move(content));
}

Message Message::from_role_and_content(Role role, std::string text) {
  return from_role_and_content(role, Content(TextContent{std::move(text)}));
}

Message Message::from_author_and_content(Author author, Content content) {
  Message message;
  message.author = std::move(author);
  message.content.push_back(std::move(content));
  return message;
}

Message Message::tool_result(const Message& call, std::string output) {
  Message message = from_author_and_content(Author{Role::tool, call.recipient}, TextContent{std::move(output)});
  message.recipient = role_name(Role::assistant);
  message.channel = call.channel;
  return message;
}

Message& Message::with_channel(std::string value) {
  channel = std::move(value);
  return *this;
}

Message& Message::with_recipient(std::string value) {
  recipient = std::move(value);
  return *this;
}

Message& Message::with_content_type(std::string value) {
  content_type = std::move(value);
  return *this;
}

Message& Message::adding_content(Content item) {
  content.push_back(std::move(item));
  return *this;
}

std::string Message::text() const {
  std::string out;
  for (const Content& item : content)
    if (const auto* text_item = std::get_if<TextContent>(&item)) out += text_item->text;
  return out;
}

SystemContent* system_content(Conversation& conversation) noexcept {
  for (Message& message : conversation) {
    if (message.author.role != Role::system) continue;
    for (Content& item : message.content)
      if (auto* system = std::get_if<SystemContent>(&item)) return system;
  }
  return nullptr;
}

const SystemContent* system_content(const Conversation& conversation) noexcept {
  return system_content(const_cast<Conversation&>(conversation));
}

void set_reasoning_effort(Conversation& conversation, ReasoningEffort effort) {
  if (SystemContent* system = system_content(conversation)) {
    system->reasoning_effort = effort;
    return;
  }
  conversation.insert(conversation.begin(), Message::from_role_and_content(
                                                Role::system, SystemContent::defaults().with_reasoning_effort(effort)));
}

void add_tool_result(Conversation& conversation, std::string tool_name, std::string output) {
  const auto call = std::find_if(conversation.rbegin(), conversation.rend(), [&](const Message& message) {
    return message.author.role == Role::assistant && message.recipient == tool_name;
  });
  if (call != conversation.rend()) {
    conversation.push_back(Message::tool_result(*call, std::move(output)));
    return;
  }
  Message assumed_call;  // no call in the history: function tools answer on commentary
  assumed_call.recipient = std::move(tool_name);
  assumed_call.channel = "commentary";
  conversation.push_back(Message::tool_result(assumed_call, std::move(output)));
}

std::optional<ToolCall> as_tool_call(const Message& message) {
  if (message.author.role != Role::assistant || !message.recipient) return std::nullopt;
  ToolCall call;
  call.recipient = *message.recipient;
  const size_t dot = call.recipient.find('.');
  call.namespace_name = call.recipient.substr(0, dot);
  if (dot != std::string::npos) call.function = call.recipient.substr(dot + 1);
  call.channel = message.channel.value_or("");
  call.content_type = message.content_type.value_or("");
  call.arguments = message.text();
  return call;
}

}  // namespace ossrt::harmony
