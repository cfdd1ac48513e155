// harmony's serde shape: {"role", "name"?, "content": [...] | "text",
// "channel"?, "recipient"?, "content_type"?}. Unknown keys are ignored and
// null means absent, as serde does; type errors name the path.
#include <cctype>

#include "harmony/conversation_json.h"
#include "util/errors.h"

namespace ossrt::harmony {
namespace {

// Maximum nesting of a conversation document, tool schemas included.
constexpr size_t kMaxJsonDepth = 128;

Status field_error(const std::string& where, const char* field, const char* expected) {
  return error(StatusCode::invalid_argument, "%s: '%s' must be %s", where.c_str(), field, expected);
}

// Reads an optional string member (absent or null → nullopt).
Status read_optional_string(const JsonValue& object, const char* field, const std::string& where,
                            std::optional<std::string>& out) {
  const JsonValue* value = object.find(field);
  if (!value || value->is_null()) return Status();
  if (!value->is_string()) return field_error(where, field, "a string or null");
  out = value->as_string();
  return Status();
}

Result<std::optional<ToolNamespaces>> read_tools(const JsonValue& object, const std::string& where) {
  const JsonValue* value = object.find("tools");
  if (!value || value->is_null()) return std::optional<ToolNamespaces>();
  if (!value->is_object()) return field_error(where, "tools", "an object of namespaces or null");
  ToolNamespaces namespaces;
  for (const JsonMember& member : value->members()) {
    auto ns = namespace_from_json_value(member.value, where + ".tools." + member.key);
    if (!ns.ok()) return ns.status();
    namespaces[member.key] = std::move(ns).value();
  }
  return std::optional<ToolNamespaces>(std::move(namespaces));
}

Result<ReasoningEffort> read_effort(const JsonValue& value, const std::string& where) {
  std::string name = value.as_string();
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (ReasoningEffort effort : {ReasoningEffort::low, ReasoningEffort::medium, ReasoningEffort::high})
    if (value.is_string() && name == reasoning_effort_name(effort)) return effort;
  return field_error(where, "reasoning_effort", "\"Low\", \"Medium\", \"High\" or null");
}

Result<ChannelConfig> read_channel_config(const JsonValue& value, const std::string& where) {
  const JsonValue* channels = value.find("valid_channels");
  const JsonValue* required = value.find("channel_required");
  if (!value.is_object() || !channels || !channels->is_array())
    return field_error(where, "channel_config", "an object with a 'valid_channels' array");
  ChannelConfig config;
  for (const JsonValue& channel : channels->items()) {
    if (!channel.is_string()) return field_error(where, "valid_channels", "an array of strings");
    config.valid_channels.push_back(channel.as_string());
  }
  if (required && !required->is_null()) {
    if (!required->is_bool()) return field_error(where, "channel_required", "a boolean");
    config.channel_required = required->as_bool();
  }
  return config;
}

Result<Content> read_system_content(const JsonValue& item, const std::string& where) {
  SystemContent content;
  Status status = read_optional_string(item, "model_identity", where, content.model_identity);
  if (status.ok())
    status = read_optional_string(item, "conversation_start_date", where, content.conversation_start_date);
  if (status.ok()) status = read_optional_string(item, "knowledge_cutoff", where, content.knowledge_cutoff);
  if (!status.ok()) return status;
  if (const JsonValue* effort = item.find("reasoning_effort"); effort && !effort->is_null()) {
    auto parsed = read_effort(*effort, where);
    if (!parsed.ok()) return parsed.status();
    content.reasoning_effort = parsed.value();
  }
  if (const JsonValue* config = item.find("channel_config"); config && !config->is_null()) {
    auto parsed = read_channel_config(*config, where);
    if (!parsed.ok()) return parsed.status();
    content.channel_config = std::move(parsed).value();
  }
  auto tools = read_tools(item, where);
  if (!tools.ok()) return tools.status();
  content.tools = std::move(tools).value();
  return Content(std::move(content));
}

// Our extension of the shape: "response_formats": [{"name", "description"?,
// "schema"}] (harmony's serde has no such field; written only when present).
Status read_response_formats(const JsonValue& item, const std::string& where, std::vector<ResponseFormat>& out) {
  const JsonValue* formats = item.find("response_formats");
  if (!formats || formats->is_null()) return Status();
  if (!formats->is_array()) return field_error(where, "response_formats", "an array or null");
  for (size_t i = 0; i < formats->items().size(); ++i) {
    const JsonValue& format = formats->items()[i];
    const std::string format_where = where + ".response_formats[" + std::to_string(i) + "]";
    if (!format.is_object()) return field_error(format_where, "item", "an object");
    const JsonValue* name = format.find("name");
    const JsonValue* schema = format.find("schema");
    if (!name || !name->is_string()) return field_error(format_where, "name", "a string");
    if (!schema || !schema->is_object()) return field_error(format_where, "schema", "an object");
    ResponseFormat parsed{name->as_string(), std::nullopt, *schema};
    if (Status status = read_optional_string(format, "description", format_where, parsed.description); !status.ok())
      return status;
    out.push_back(std::move(parsed));
  }
  return Status();
}

Result<Content> read_developer_content(const JsonValue& item, const std::string& where) {
  DeveloperContent content;
  if (Status status = read_optional_string(item, "instructions", where, content.instructions); !status.ok())
    return status;
  auto tools = read_tools(item, where);
  if (!tools.ok()) return tools.status();
  content.tools = std::move(tools).value();
  if (Status status = read_response_formats(item, where, content.response_formats); !status.ok()) return status;
  return Content(std::move(content));
}

Result<Content> read_content_item(const JsonValue& item, const std::string& where) {
  const JsonValue* type = item.find("type");
  if (!item.is_object() || !type || !type->is_string())
    return field_error(where, "type", "\"text\", \"system_content\" or \"developer_content\"");
  if (type->as_string() == "text") {
    const JsonValue* text = item.find("text");
    if (!text || !text->is_string()) return field_error(where, "text", "a string");
    return Content(TextContent{text->as_string()});
  }
  if (type->as_string() == "system_content") return read_system_content(item, where);
  if (type->as_string() == "developer_content") return read_developer_content(item, where);
  return error(StatusCode::invalid_argument, "%s: unknown content type \"%s\"", where.c_str(),
               type->as_string().c_str());
}

Result<Message> read_message(const JsonValue& value, const std::string& where) {
  if (!value.is_object()) return error(StatusCode::invalid_argument, "%s: a message must be an object", where.c_str());
  Message message;
  const JsonValue* role = value.find("role");
  std::optional<Role> parsed_role = role && role->is_string() ? role_from_name(role->as_string()) : std::nullopt;
  if (!parsed_role) return field_error(where, "role", "one of system, developer, user, assistant, tool");
  message.author.role = *parsed_role;
  Status status = read_optional_string(value, "name", where, message.author.name);
  if (status.ok()) status = read_optional_string(value, "channel", where, message.channel);
  if (status.ok()) status = read_optional_string(value, "recipient", where, message.recipient);
  if (status.ok()) status = read_optional_string(value, "content_type", where, message.content_type);
  if (!status.ok()) return status;
  const JsonValue* content = value.find("content");
  if (content && content->is_string()) {
    message.content.push_back(TextContent{content->as_string()});
  } else if (content && content->is_array()) {
    for (size_t i = 0; i < content->items().size(); ++i) {
      auto item = read_content_item(content->items()[i], where + ".content[" + std::to_string(i) + "]");
      if (!item.ok()) return item.status();
      message.content.push_back(std::move(item).value());
    }
  } else {
    return field_error(where, "content", "a string or an array of content items");
  }
  return message;
}

// ---- writing -------------------------------------------------------------

void write_key(std::string& out, const char* key) {
  append_json_string(out, key);
  out += ':';
}

void write_optional(std::string& out, const char* key, const std::optional<std::string>& value, bool always) {
  if (!value && !always) return;
  out += ',';
  write_key(out, key);
  if (value)
    append_json_string(out, *value);
  else
    out += "null";
}

void write_namespaces(std::string& out, const std::optional<ToolNamespaces>& tools) {
  out += ",\"tools\":";
  if (!tools) {
    out += "null";
    return;
  }
  out += '{';
  bool first_ns = true;
  for (const auto& [key, ns] : *tools) {
    if (!first_ns) out += ',';
    first_ns = false;
    append_json_string(out, key);
    out += ":{\"name\":";
    append_json_string(out, ns.name);
    write_optional(out, "description", ns.description, true);
    out += ",\"tools\":[";
    for (size_t i = 0; i < ns.tools.size(); ++i) {
      const ToolDescription& tool = ns.tools[i];
      if (i) out += ',';
      out += "{\"name\":";
      append_json_string(out, tool.name);
      out += ",\"description\":";
      append_json_string(out, tool.description);
      out += ",\"parameters\":";
      if (tool.parameters)
        tool.parameters->dump_to(out);
      else
        out += "null";
      out += '}';
    }
    out += "]}";
  }
  out += '}';
}

void write_content(std::string& out, const Content& item) {
  if (const auto* text = std::get_if<TextContent>(&item)) {
    out += "{\"type\":\"text\",\"text\":";
    append_json_string(out, text->text);
  } else if (const auto* system = std::get_if<SystemContent>(&item)) {
    out += "{\"type\":\"system_content\"";
    write_optional(out, "model_identity", system->model_identity, true);
    out += ",\"reasoning_effort\":";
    static const char* const kEffortNames[] = {"\"Low\"", "\"Medium\"", "\"High\""};
    out += system->reasoning_effort ? kEffortNames[static_cast<int>(*system->reasoning_effort)] : "null";
    write_namespaces(out, system->tools);
    write_optional(out, "conversation_start_date", system->conversation_start_date, true);
    write_optional(out, "knowledge_cutoff", system->knowledge_cutoff, true);
    out += ",\"channel_config\":";
    if (system->channel_config) {
      out += "{\"valid_channels\":[";
      for (size_t i = 0; i < system->channel_config->valid_channels.size(); ++i) {
        if (i) out += ',';
        append_json_string(out, system->channel_config->valid_channels[i]);
      }
      out += "],\"channel_required\":";
      out += system->channel_config->channel_required ? "true}" : "false}";
    } else {
      out += "null";
    }
  } else if (const auto* developer = std::get_if<DeveloperContent>(&item)) {
    out += "{\"type\":\"developer_content\"";
    write_optional(out, "instructions", developer->instructions, true);
    write_namespaces(out, developer->tools);
    if (!developer->response_formats.empty()) {
      out += ",\"response_formats\":[";
      for (size_t i = 0; i < developer->response_formats.size(); ++i) {
        const ResponseFormat& format = developer->response_formats[i];
        if (i) out += ',';
        out += "{\"name\":";
        append_json_string(out, format.name);
        write_optional(out, "description", format.description, true);
        out += ",\"schema\":";
        format.schema.dump_to(out);
        out += '}';
      }
      out += ']';
    }
  }
  out += '}';
}

void write_message(std::string& out, const Message& message) {
  out += "{\"role\":";
  append_json_string(out, role_name(message.author.role));
  write_optional(out, "name", message.author.name, false);
  out += ",\"content\":[";
  for (size_t i = 0; i < message.content.size(); ++i) {
    if (i) out += ',';
    write_content(out, message.content[i]);
  }
  out += ']';
  write_optional(out, "channel", message.channel, false);
  write_optional(out, "recipient", message.recipient, false);
  write_optional(out, "content_type", message.content_type, false);
  out += '}';
}

}  // namespace

Result<ToolNamespace> namespace_from_json_value(const JsonValue& value, const std::string& where) {
  if (!value.is_object())
    return error(StatusCode::invalid_argument, "%s: a namespace must be an object", where.c_str());
  ToolNamespace ns;
  const JsonValue* name = value.find("name");
  if (!name || !name->is_string()) return field_error(where, "name", "a string");
  ns.name = name->as_string();
  if (Status status = read_optional_string(value, "description", where, ns.description); !status.ok()) return status;
  const JsonValue* tools = value.find("tools");
  if (tools && !tools->is_null() && !tools->is_array()) return field_error(where, "tools", "an array of tools");
  for (size_t i = 0; tools && i < tools->items().size(); ++i) {
    const JsonValue& tool = tools->items()[i];
    const std::string tool_where = where + ".tools[" + std::to_string(i) + "]";
    const JsonValue* tool_name = tool.find("name");
    if (!tool_name || !tool_name->is_string()) return field_error(tool_where, "name", "a string");
    ToolDescription description;
    description.name = tool_name->as_string();
    std::optional<std::string> text;
    if (Status status = read_optional_string(tool, "description", tool_where, text); !status.ok()) return status;
    description.description = text.value_or("");
    if (const JsonValue* parameters = tool.find("parameters"); parameters && !parameters->is_null())
      description.parameters = *parameters;
    ns.tools.push_back(std::move(description));
  }
  return ns;
}

Result<ToolNamespace> tool_namespace_from_json_value(const JsonValue& value) noexcept {
  return guard("tool_namespace_from_json", [&] { return namespace_from_json_value(value, "namespace"); });
}

Result<Message> message_from_json_value(const JsonValue& value) noexcept {
  return guard("message_from_json", [&] { return read_message(value, "message"); });
}

Result<Conversation> conversation_from_json_value(const JsonValue& value) noexcept {
  return guard("conversation_from_json", [&]() -> Result<Conversation> {
    const JsonValue* messages = value.is_object() ? value.find("messages") : &value;
    if (!messages || !messages->is_array())
      return Status(StatusCode::invalid_argument,
                    "conversation: expected an array of messages or {\"messages\": [...]}");
    Conversation conversation;
    for (size_t i = 0; i < messages->items().size(); ++i) {
      auto message = read_message(messages->items()[i], "messages[" + std::to_string(i) + "]");
      if (!message.ok()) return message.status();
      conversation.push_back(std::move(message).value());
    }
    return conversation;
  });
}

Result<Message> message_from_json(std::string_view json) noexcept {
  auto value = JsonValue::parse(json, kMaxJsonDepth);
  if (!value.ok()) return value.status();
  return message_from_json_value(value.value());
}

Result<Conversation> conversation_from_json(std::string_view json) noexcept {
  auto value = JsonValue::parse(json, kMaxJsonDepth);
  if (!value.ok()) return value.status();
  return conversation_from_json_value(value.value());
}

std::string to_json(const Message& message) {
  std::string out;
  write_message(out, message);
  return out;
}

std::string to_json(const Conversation& conversation) {
  std::string out = "[";
  for (size_t i = 0; i < conversation.size(); ++i) {
    if (i) out += ',';
    write_message(out, conversation[i]);
  }
  out += ']';
  return out;
}

}  // namespace ossrt::harmony
