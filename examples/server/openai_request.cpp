#include "openai_request.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <map>
#include <new>

#include "ossrt/chat.hpp"

namespace ossrt_server {
namespace {

using ossrt::JsonValue;
using ossrt::harmony::Conversation;
using ossrt::harmony::Message;
using ossrt::harmony::Role;

// Thrown inside the parsers and turned into their ApiError result.
struct RequestError {
  ApiError error;
};

[[noreturn]] void reject(std::string param, std::string message) {
  throw RequestError{ApiError{400, std::move(message), std::move(param)}};
}

const char* type_name(const JsonValue& value) {
  switch (value.type()) {
    case JsonValue::Type::null:
      return "null";
    case JsonValue::Type::boolean:
      return "a boolean";
    case JsonValue::Type::integer:
    case JsonValue::Type::unsigned_integer:
    case JsonValue::Type::number:
      return "a number";
    case JsonValue::Type::string:
      return "a string";
    case JsonValue::Type::array:
      return "an array";
    case JsonValue::Type::object:
      return "an object";
  }
  return "a value";
}

[[noreturn]] void reject_type(const std::string& param, const char* expected, const JsonValue& value) {
  reject(param, param + " must be " + expected + ", not " + type_name(value));
}

const std::string& string_of(const JsonValue& value, const std::string& param) {
  if (!value.is_string()) reject_type(param, "a string", value);
  return value.as_string();
}

// JsonValue keeps numbers exactly as written; its text is the way to read them.
double number_of(const JsonValue& value, const std::string& param) {
  if (!value.is_number()) reject_type(param, "a number", value);
  return std::strtod(value.dump().c_str(), nullptr);
}

uint64_t unsigned_of(const JsonValue& value, const std::string& param) {
  if (value.type() != JsonValue::Type::integer && value.type() != JsonValue::Type::unsigned_integer)
    reject_type(param, "an integer", value);
  const std::string text = value.dump();
  if (text.starts_with('-')) reject(param, param + " must not be negative");
  errno = 0;
  const unsigned long long parsed = std::strtoull(text.c_str(), nullptr, 10);
  if (errno == ERANGE) reject(param, param + " is too large");
  return parsed;
}

bool bool_of(const JsonValue& value, const std::string& param) {
  if (!value.is_bool()) reject_type(param, "a boolean", value);
  return value.as_bool();
}

// A member that is absent or null counts as not given.
const JsonValue* member(const JsonValue& object, std::string_view key) {
  const JsonValue* value = object.find(key);
  return value && !value->is_null() ? value : nullptr;
}

// Text content: a string, or an array of parts with a `text` (text,
// input_text, output_text); null is empty.
std::string text_of(const JsonValue* content, const std::string& param) {
  if (!content) return {};
  if (content->is_string()) return content->as_string();
  if (!content->is_array()) reject_type(param, "a string or an array of text parts", *content);
  std::string text;
  for (size_t i = 0; i < content->items().size(); ++i) {
    const JsonValue& part = content->items()[i];
    const std::string part_param = param + "[" + std::to_string(i) + "]";
    if (!part.is_object()) reject_type(part_param, "an object", part);
    const JsonValue* type = member(part, "type");
    const std::string kind = type ? string_of(*type, part_param + ".type") : "text";
    if (kind != "text" && kind != "input_text" && kind != "output_text" && kind != "reasoning_text")
      reject(part_param + ".type", "content parts of type '" + kind + "' are not supported (text only)");
    const JsonValue* part_text = member(part, "text");
    if (!part_text) reject(part_param + ".text", part_param + ".text is required");
    text += string_of(*part_text, part_param + ".text");
  }
  return text;
}

ossrt::harmony::ReasoningEffort effort_of(const JsonValue& value, const std::string& param) {
  const std::string& name = string_of(value, param);
  for (auto effort : {ossrt::harmony::ReasoningEffort::low, ossrt::harmony::ReasoningEffort::medium,
                      ossrt::harmony::ReasoningEffort::high})
    if (name == ossrt::harmony::reasoning_effort_name(effort)) return effort;
  reject(param, param + " must be low, medium or high, not '" + name + "'");
}

ossrt::harmony::ToolDescription tool_of(const JsonValue* name, const JsonValue* description,
                                        const JsonValue* parameters, const std::string& param) {
  ossrt::harmony::ToolDescription tool;
  if (!name) reject(param + ".name", param + ".name is required");
  tool.name = string_of(*name, param + ".name");
  if (tool.name.empty() || tool.name.find_first_of(" .<>|\n") != std::string::npos)
    reject(param + ".name", param + ".name must be a non-empty name without spaces, dots or <|>");
  if (description) tool.description = string_of(*description, param + ".description");
  if (parameters) {
    if (!parameters->is_object()) reject_type(param + ".parameters", "a JSON schema object", *parameters);
    if (auto rendered = ossrt::harmony::json_schema_to_typescript(*parameters); !rendered.ok())
      reject(param + ".parameters", rendered.status().message());
    tool.parameters = *parameters;
  }
  return tool;
}

// What both APIs build: the harmony system message (with the effort), the
// developer message (instructions and function tools), then the turns.
class ConversationBuilder {
 public:
  void set_effort(ossrt::harmony::ReasoningEffort effort) { effort_ = effort; }
  void add_instructions(std::string text) {
    if (!text.empty()) instructions_.push_back(std::move(text));
  }
  void add_tool(ossrt::harmony::ToolDescription tool) { tools_.push_back(std::move(tool)); }
  void add_text(Role role, std::string text) {
    turns_.push_back(Message::from_role_and_content(role, std::move(text)));
  }
  void add_reasoning(std::string text) {
    turns_.push_back(Message::from_role_and_content(Role::assistant, std::move(text)).with_channel("analysis"));
  }
  void add_answer(std::string text, bool preamble) {
    turns_.push_back(Message::from_role_and_content(Role::assistant, std::move(text))
                         .with_channel(preamble ? "commentary" : "final"));
  }
  void add_call(const std::string& call_id, const std::string& name, std::string arguments) {
    turns_.push_back(Message::from_role_and_content(Role::assistant, std::move(arguments))
                         .with_channel("commentary")
                         .with_recipient("functions." + name)
                         .with_content_type("<|constrain|>json"));
    if (!call_id.empty()) call_names_[call_id] = name;
  }
  void add_call_output(const std::string& call_id, std::string output, const std::string& param) {
    const auto name = call_names_.find(call_id);
    if (name == call_names_.end()) reject(param, "no tool call with id '" + call_id + "' precedes this tool result");
    ossrt::harmony::add_tool_result(turns_, "functions." + name->second, std::move(output));
  }

  Conversation build() && {
    Conversation conversation;
    conversation.push_back(Message::from_role_and_content(
        Role::system, ossrt::harmony::SystemContent::defaults().with_reasoning_effort(effort_)));
    if (!instructions_.empty() || !tools_.empty()) {
      ossrt::harmony::DeveloperContent developer;
      if (!instructions_.empty()) {
        std::string joined;
        for (const std::string& text : instructions_) joined += (joined.empty() ? "" : "\n\n") + text;
        developer.with_instructions(std::move(joined));
      }
      if (!tools_.empty()) developer.with_function_tools(std::move(tools_));
      conversation.push_back(Message::from_role_and_content(Role::developer, std::move(developer)));
    }
    for (Message& message : turns_) conversation.push_back(std::move(message));
    return conversation;
  }

 private:
  ossrt::harmony::ReasoningEffort effort_ = ossrt::harmony::ReasoningEffort::medium;
  std::vector<std::string> instructions_;
  std::vector<ossrt::harmony::ToolDescription> tools_;
  Conversation turns_;
  std::map<std::string, std::string> call_names_;  // tool call id -> function name
};

// The settings both APIs share under the same names.
void read_common(const JsonValue& root, GenerationRequest& request) {
  if (const JsonValue* model = member(root, "model")) request.model = string_of(*model, "model");
  if (const JsonValue* stream = member(root, "stream")) request.stream = bool_of(*stream, "stream");
  if (const JsonValue* temperature = member(root, "temperature")) {
    const double t = number_of(*temperature, "temperature");
    if (!(t >= 0 && t <= 2)) reject("temperature", "temperature must be between 0 and 2");
    request.sampling.temperature = static_cast<float>(t);
  }
  if (const JsonValue* top_p = member(root, "top_p")) {
    const double p = number_of(*top_p, "top_p");
    if (!(p > 0 && p <= 1)) reject("top_p", "top_p must be in (0, 1]");
    request.sampling.top_p = static_cast<float>(p);
  }
  if (const JsonValue* seed = member(root, "seed")) request.sampling.seed = unsigned_of(*seed, "seed");
}

size_t max_tokens_of(const JsonValue& value, const std::string& param) {
  const uint64_t n = unsigned_of(value, param);
  if (n == 0) reject(param, param + " must be at least 1");
  return static_cast<size_t>(n);
}

// A response format's name as OpenAI allows it; it becomes a header line
// ("## NAME") of the developer message.
bool valid_format_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; });
}

// A schema the compiler refused: the request's fault (400 at `param`, with
// the compiler's message and byte position) unless memory ran out.
void check_schema(const ossrt::Status& compiled, const std::string& param) {
  if (compiled.code() == ossrt::StatusCode::out_of_memory) throw std::bad_alloc();
  if (!compiled.ok()) reject(param, compiled.message());
}

// `format` ({"type": "text" | "json_object" | "json_schema", ...} at
// `param`) into the request. A json_schema's members are in `format` itself
// (the Responses API) or in its `json_schema` object (chat completions);
// its schema is compiled now, so that a bad one is this request's 400.
void read_response_format(const JsonValue* format, const std::string& param, bool nested, GenerationRequest& request) {
  if (!format) return;
  if (!format->is_object()) reject_type(param, "an object", *format);
  const JsonValue* type = member(*format, "type");
  if (!type) reject(param + ".type", param + ".type is required");
  const std::string& kind = string_of(*type, param + ".type");
  if (kind == "text") return;
  if (kind == "json_object") {
    request.response_format_schema = R"({"type":"object"})";
    request.response_format_name = "json_object";
    return;
  }
  if (kind != "json_schema")
    reject(param + ".type", param + ".type must be 'text', 'json_object' or 'json_schema', not '" + kind + "'");
  const JsonValue* spec = format;
  std::string spec_param = param;
  if (nested) {
    spec_param = param + ".json_schema";
    spec = member(*format, "json_schema");
    if (!spec) reject(spec_param, spec_param + " is required");
    if (!spec->is_object()) reject_type(spec_param, "an object", *spec);
  }
  const JsonValue* name = member(*spec, "name");
  if (!name) reject(spec_param + ".name", spec_param + ".name is required");
  request.response_format_name = string_of(*name, spec_param + ".name");
  if (!valid_format_name(request.response_format_name))
    reject(spec_param + ".name", spec_param + ".name must be 1 to 64 letters, digits, '_' or '-'");
  if (const JsonValue* description = member(*spec, "description"))
    request.response_format_description = string_of(*description, spec_param + ".description");
  // Accepted for compatibility: the schema is enforced either way.
  if (const JsonValue* strict = member(*spec, "strict")) static_cast<void>(bool_of(*strict, spec_param + ".strict"));
  const JsonValue* schema = member(*spec, "schema");
  if (!schema) reject(spec_param + ".schema", spec_param + ".schema is required");
  if (!schema->is_object()) reject_type(spec_param + ".schema", "a JSON schema object", *schema);
  request.response_format_schema = schema->dump();
  check_schema(ossrt::check_response_format(request.response_format_schema), spec_param + ".schema");
}

// A function tool, and its name among the request's strict tools when
// `strict` is true (its parameters compiled now, so a bad schema is a 400).
void add_function_tool(ossrt::harmony::ToolDescription tool, const JsonValue* strict, const std::string& param,
                       ConversationBuilder& builder, GenerationRequest& request) {
  if (strict && bool_of(*strict, param + ".strict")) {
    check_schema(ossrt::check_strict_tool(tool), param + ".parameters");
    request.strict_tools.push_back(tool.name);
  }
  builder.add_tool(std::move(tool));
}

void read_chat_message(const JsonValue& message, const std::string& param, ConversationBuilder& builder) {
  if (!message.is_object()) reject_type(param, "an object", message);
  const JsonValue* role_value = member(message, "role");
  if (!role_value) reject(param + ".role", param + ".role is required");
  const std::string& role_name = string_of(*role_value, param + ".role");
  const auto role = ossrt::harmony::role_from_name(role_name);
  if (!role) reject(param + ".role", "unknown role '" + role_name + "' (system, developer, user, assistant or tool)");
  std::string text = text_of(member(message, "content"), param + ".content");
  switch (*role) {
    case Role::system:
    case Role::developer:
      builder.add_instructions(std::move(text));
      return;
    case Role::user:
      builder.add_text(Role::user, std::move(text));
      return;
    case Role::tool: {
      const JsonValue* id = member(message, "tool_call_id");
      if (!id) reject(param + ".tool_call_id", param + ".tool_call_id is required");
      builder.add_call_output(string_of(*id, param + ".tool_call_id"), std::move(text), param + ".tool_call_id");
      return;
    }
    case Role::assistant:
      break;
  }
  const JsonValue* reasoning = member(message, "reasoning_content");
  if (!reasoning) reasoning = member(message, "reasoning");
  if (reasoning) builder.add_reasoning(string_of(*reasoning, param + ".reasoning_content"));
  const JsonValue* calls = member(message, "tool_calls");
  if (calls && !calls->is_array()) reject_type(param + ".tool_calls", "an array", *calls);
  const bool has_calls = calls && !calls->items().empty();
  // Text beside calls is the preamble gpt-oss writes on commentary.
  if (!text.empty()) builder.add_answer(std::move(text), has_calls);
  if (!calls) return;
  for (size_t i = 0; i < calls->items().size(); ++i) {
    const JsonValue& call = calls->items()[i];
    const std::string call_param = param + ".tool_calls[" + std::to_string(i) + "]";
    if (!call.is_object()) reject_type(call_param, "an object", call);
    const JsonValue* id = member(call, "id");
    const JsonValue* function = member(call, "function");
    if (!function || !function->is_object())
      reject(call_param + ".function", call_param + ".function must be an object");
    const JsonValue* name = member(*function, "name");
    if (!name) reject(call_param + ".function.name", call_param + ".function.name is required");
    const JsonValue* arguments = member(*function, "arguments");
    builder.add_call(id ? string_of(*id, call_param + ".id") : std::string(),
                     string_of(*name, call_param + ".function.name"),
                     arguments ? string_of(*arguments, call_param + ".function.arguments") : std::string("{}"));
  }
}

void read_chat_tools(const JsonValue& tools, ConversationBuilder& builder, GenerationRequest& request) {
  if (!tools.is_array()) reject_type("tools", "an array", tools);
  for (size_t i = 0; i < tools.items().size(); ++i) {
    const JsonValue& tool = tools.items()[i];
    const std::string param = "tools[" + std::to_string(i) + "]";
    if (!tool.is_object()) reject_type(param, "an object", tool);
    const JsonValue* type = member(tool, "type");
    if (!type || string_of(*type, param + ".type") != "function")
      reject(param + ".type", param + ".type must be 'function'");
    const JsonValue* function = member(tool, "function");
    if (!function || !function->is_object()) reject(param + ".function", param + ".function must be an object");
    add_function_tool(tool_of(member(*function, "name"), member(*function, "description"),
                              member(*function, "parameters"), param + ".function"),
                      member(*function, "strict"), param + ".function", builder, request);
  }
}

JsonValue parse_root(std::string_view body) {
  // Deeper than harmony renders schemas (128 levels), so a too-deep tool schema is
  // named as such rather than as bad JSON.
  auto root = JsonValue::parse(body, 160);
  if (!root.ok()) reject("", "the request body is not valid JSON: " + root.status().message());
  if (!root.value().is_object()) reject("", "the request body must be a JSON object");
  return std::move(root.value());
}

// The body as a JSON object, the settings both APIs share, then `read_api`'s
// own members; a RequestError thrown anywhere becomes the result.
template <typename ReadApi>
ParsedRequest parse_request(std::string_view body, ReadApi&& read_api) {
  try {
    const JsonValue root = parse_root(body);
    GenerationRequest request;
    ConversationBuilder builder;
    read_common(root, request);
    read_api(root, request, builder);
    request.conversation = std::move(builder).build();
    return request;
  } catch (const RequestError& e) {
    return e.error;
  } catch (const std::bad_alloc&) {
    return ApiError{500, "out of memory reading the request", "", "server_error"};
  }
}

void read_responses_item(const JsonValue& item, const std::string& param, ConversationBuilder& builder) {
  if (!item.is_object()) reject_type(param, "an object", item);
  const JsonValue* type_value = member(item, "type");
  const std::string type = type_value ? string_of(*type_value, param + ".type") : "message";
  if (type == "message") {
    const JsonValue* role_value = member(item, "role");
    if (!role_value) reject(param + ".role", param + ".role is required");
    const std::string& role = string_of(*role_value, param + ".role");
    std::string text = text_of(member(item, "content"), param + ".content");
    if (role == "system" || role == "developer")
      builder.add_instructions(std::move(text));
    else if (role == "user")
      builder.add_text(Role::user, std::move(text));
    else if (role == "assistant")
      builder.add_answer(std::move(text), false);
    else
      reject(param + ".role", "unknown role '" + role + "' (system, developer, user or assistant)");
  } else if (type == "reasoning") {
    builder.add_reasoning(text_of(member(item, "content"), param + ".content"));
  } else if (type == "function_call") {
    const JsonValue* name = member(item, "name");
    if (!name) reject(param + ".name", param + ".name is required");
    const JsonValue* call_id = member(item, "call_id");
    const JsonValue* arguments = member(item, "arguments");
    builder.add_call(call_id ? string_of(*call_id, param + ".call_id") : std::string(),
                     string_of(*name, param + ".name"),
                     arguments ? string_of(*arguments, param + ".arguments") : std::string("{}"));
  } else if (type == "function_call_output") {
    const JsonValue* call_id = member(item, "call_id");
    if (!call_id) reject(param + ".call_id", param + ".call_id is required");
    const JsonValue* output = member(item, "output");
    builder.add_call_output(string_of(*call_id, param + ".call_id"),
                            output ? string_of(*output, param + ".output") : std::string(), param + ".call_id");
  } else {
    reject(param + ".type", "input items of type '" + type + "' are not supported");
  }
}

// Whether the request's tool_choice is "none" (its tools are then not
// declared to the model); "auto" or absent: false; anything else is refused.
bool tools_off(const JsonValue& root) {
  const JsonValue* choice = member(root, "tool_choice");
  if (!choice) return false;
  const std::string& mode = choice->is_string() ? choice->as_string() : std::string();
  if (mode != "auto" && mode != "none") reject("tool_choice", "tool_choice must be 'auto' or 'none'");
  return mode == "none";
}

}  // namespace

ParsedRequest parse_chat_completion_request(std::string_view body) {
  return parse_request(body, [](const JsonValue& root, GenerationRequest& request, ConversationBuilder& builder) {
    if (const JsonValue* n = member(root, "n"); n && unsigned_of(*n, "n") != 1) reject("n", "only n = 1 is supported");
    if (const JsonValue* effort = member(root, "reasoning_effort"))
      builder.set_effort(effort_of(*effort, "reasoning_effort"));
    if (const JsonValue* max = member(root, "max_completion_tokens"))
      request.max_tokens = max_tokens_of(*max, "max_completion_tokens");
    else if (const JsonValue* legacy = member(root, "max_tokens"))
      request.max_tokens = max_tokens_of(*legacy, "max_tokens");
    if (const JsonValue* stop = member(root, "stop")) {
      if (stop->is_string()) {
        request.stop.push_back(stop->as_string());
      } else if (stop->is_array() && stop->items().size() <= 4) {
        for (size_t i = 0; i < stop->items().size(); ++i)
          request.stop.push_back(string_of(stop->items()[i], "stop[" + std::to_string(i) + "]"));
      } else {
        reject("stop", "stop must be a string or an array of at most 4 strings");
      }
      for (const std::string& text : request.stop)
        if (text.empty()) reject("stop", "stop strings must not be empty");
    }
    if (const JsonValue* options = member(root, "stream_options")) {
      if (!options->is_object()) reject_type("stream_options", "an object", *options);
      if (const JsonValue* usage = member(*options, "include_usage"))
        request.include_usage = bool_of(*usage, "stream_options.include_usage");
    }
    read_response_format(member(root, "response_format"), "response_format", true, request);
    if (const JsonValue* tools = tools_off(root) ? nullptr : member(root, "tools"))
      read_chat_tools(*tools, builder, request);
    const JsonValue* messages = member(root, "messages");
    if (!messages) reject("messages", "messages is required");
    if (!messages->is_array() || messages->items().empty())
      reject("messages", "messages must be a non-empty array of message objects");
    for (size_t i = 0; i < messages->items().size(); ++i)
      read_chat_message(messages->items()[i], "messages[" + std::to_string(i) + "]", builder);
  });
}

namespace {

// What a Response object repeats of its (already validated) request: the
// values given, else the defaults the request ran with.
JsonValue responses_echo(const JsonValue& root, const GenerationRequest& request) {
  // The value given for `key` in `object` (null counts as absent), else `otherwise`.
  const auto given = [](const JsonValue* object, const char* key, JsonValue otherwise) {
    const JsonValue* value = object ? member(*object, key) : nullptr;
    return value && !value->is_null() ? *value : otherwise;
  };
  // One member at a time: GCC 12 warns about a braced list of them here.
  std::vector<ossrt::JsonMember> echo;
  echo.push_back({"instructions", given(&root, "instructions", JsonValue())});
  echo.push_back(
      {"max_output_tokens", request.max_tokens ? JsonValue::unsigned_integer(*request.max_tokens) : JsonValue()});
  echo.push_back({"temperature", given(&root, "temperature", JsonValue::integer(1))});
  echo.push_back({"top_p", given(&root, "top_p", JsonValue::integer(1))});
  echo.push_back({"tools", given(&root, "tools", JsonValue::array({}))});
  echo.push_back({"tool_choice", given(&root, "tool_choice", JsonValue::string("auto"))});
  echo.push_back({"parallel_tool_calls", given(&root, "parallel_tool_calls", JsonValue::boolean(true))});
  std::vector<ossrt::JsonMember> reasoning;
  reasoning.push_back({"effort", given(member(root, "reasoning"), "effort", JsonValue::string("medium"))});
  reasoning.push_back({"summary", JsonValue()});
  echo.push_back({"reasoning", JsonValue::object(std::move(reasoning))});
  std::vector<ossrt::JsonMember> plain_text;
  plain_text.push_back({"type", JsonValue::string("text")});
  std::vector<ossrt::JsonMember> text;
  text.push_back({"format", given(member(root, "text"), "format", JsonValue::object(std::move(plain_text)))});
  echo.push_back({"text", JsonValue::object(std::move(text))});
  echo.push_back({"metadata", given(&root, "metadata", JsonValue::object({}))});
  return JsonValue::object(std::move(echo));
}

}  // namespace

ParsedRequest parse_responses_request(std::string_view body) {
  return parse_request(body, [](const JsonValue& root, GenerationRequest& request, ConversationBuilder& builder) {
    if (const JsonValue* max = member(root, "max_output_tokens"))
      request.max_tokens = max_tokens_of(*max, "max_output_tokens");
    if (const JsonValue* reasoning = member(root, "reasoning")) {
      if (!reasoning->is_object()) reject_type("reasoning", "an object", *reasoning);
      if (const JsonValue* effort = member(*reasoning, "effort"))
        builder.set_effort(effort_of(*effort, "reasoning.effort"));
    }
    if (const JsonValue* text = member(root, "text")) {
      if (!text->is_object()) reject_type("text", "an object", *text);
      read_response_format(member(*text, "format"), "text.format", false, request);
    }
    if (const JsonValue* instructions = member(root, "instructions"))
      builder.add_instructions(string_of(*instructions, "instructions"));
    if (const JsonValue* tools = tools_off(root) ? nullptr : member(root, "tools")) {
      if (!tools->is_array()) reject_type("tools", "an array", *tools);
      for (size_t i = 0; i < tools->items().size(); ++i) {
        const JsonValue& tool = tools->items()[i];
        const std::string param = "tools[" + std::to_string(i) + "]";
        if (!tool.is_object()) reject_type(param, "an object", tool);
        const JsonValue* type = member(tool, "type");
        if (!type || string_of(*type, param + ".type") != "function")
          reject(param + ".type", param + ".type must be 'function'");
        add_function_tool(tool_of(member(tool, "name"), member(tool, "description"), member(tool, "parameters"), param),
                          member(tool, "strict"), param, builder, request);
      }
    }
    request.response_echo = responses_echo(root, request);
    const JsonValue* input = member(root, "input");
    if (!input) reject("input", "input is required");
    if (input->is_string()) {
      builder.add_text(Role::user, input->as_string());
    } else if (input->is_array() && !input->items().empty()) {
      for (size_t i = 0; i < input->items().size(); ++i)
        read_responses_item(input->items()[i], "input[" + std::to_string(i) + "]", builder);
    } else {
      reject("input", "input must be a string or a non-empty array of items");
    }
  });
}

}  // namespace ossrt_server
