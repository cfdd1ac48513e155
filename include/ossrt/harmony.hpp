// The harmony chat format of gpt-oss: conversation types, a renderer that
// produces exactly the token ids openai/harmony v0.0.8 renders, and a
// streaming parser for model output.
//
// Names follow harmony (Rust/Python) so code ports over: Message,
// SystemContent, DeveloperContent, ToolNamespace, render_conversation*,
// StreamParser ≈ StreamableParser.
//
// Thread rules: conversation values are plain data. A Renderer is immutable
// and safe to use from any number of threads. A StreamParser is used by one
// thread at a time (one per generation stream).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "ossrt/json.hpp"
#include "ossrt/status.hpp"
#include "ossrt/tokenizer.hpp"

namespace ossrt::harmony {

// ---------------------------------------------------------------------------
// Conversation model
// ---------------------------------------------------------------------------

enum class Role { system, developer, user, assistant, tool };
// "system", "developer", "user", "assistant", "tool".
const char* role_name(Role role) noexcept;
// The role named exactly `name`, or nullopt.
std::optional<Role> role_from_name(std::string_view name) noexcept;

enum class ReasoningEffort { low, medium, high };
const char* reasoning_effort_name(ReasoningEffort effort) noexcept;  // "low", "medium", "high"

struct Author {
  Role role = Role::user;
  std::optional<std::string> name;  // "alice" for user:alice; the tool's name for Role::tool
};

struct ToolDescription {
  std::string name;
  std::string description;
  std::optional<JsonValue> parameters;  // a JSON schema; rendered as a TypeScript type
};

struct ToolNamespace {
  std::string name;
  std::optional<std::string> description;
  std::vector<ToolDescription> tools;

  // harmony's built-in namespaces (ToolNamespaceConfig::browser()/python()),
  // their texts compiled into the library.
  static ToolNamespace browser();
  static ToolNamespace python();
};

// Namespaces by key; rendering follows key order (harmony keeps a BTreeMap).
using ToolNamespaces = std::map<std::string, ToolNamespace>;

struct ChannelConfig {
  std::vector<std::string> valid_channels;
  bool channel_required = false;
  // {"analysis", "commentary", "final"}, required.
  static ChannelConfig require(std::vector<std::string> channels);
};

// The system message body. Every field is optional; `defaults()` fills them
// the way harmony's SystemContent::new() does.
struct SystemContent {
  std::optional<std::string> model_identity;
  std::optional<ReasoningEffort> reasoning_effort;
  std::optional<ToolNamespaces> tools;
  std::optional<std::string> conversation_start_date;
  std::optional<std::string> knowledge_cutoff;
  std::optional<ChannelConfig> channel_config;

  // Identity "You are ChatGPT, a large language model trained by OpenAI.",
  // effort medium, knowledge cutoff 2024-06, channels analysis/commentary/final required.
  static SystemContent defaults();
  SystemContent& with_model_identity(std::string identity);
  SystemContent& with_reasoning_effort(ReasoningEffort effort);
  SystemContent& with_conversation_start_date(std::string date);
  SystemContent& with_knowledge_cutoff(std::string cutoff);
  SystemContent& with_required_channels(std::vector<std::string> channels);
  SystemContent& with_channel_config(ChannelConfig config);
  SystemContent& with_tools(ToolNamespace ns);  // adds or replaces the namespace of that name
  SystemContent& with_browser_tool();
  SystemContent& with_python_tool();
};

// A structured-output format. harmony's library renders none; its format
// guide writes one at the end of the developer message, and gpt-oss was
// trained on that text:
//   # Response Formats\n\n## {name}\n\n// {description}\n{schema}
// (no "// " line without a description; formats joined by "\n\n").
struct ResponseFormat {
  std::string name;
  std::optional<std::string> description;
  JsonValue schema;  // a JSON schema, rendered as compact JSON in its key order
};

// The developer message body.
struct DeveloperContent {
  std::optional<std::string> instructions;
  std::optional<ToolNamespaces> tools;
  std::vector<ResponseFormat> response_formats;  // rendered after the tools

  DeveloperContent& with_instructions(std::string text);
  // Adds the tools as the "functions" namespace.
  DeveloperContent& with_function_tools(std::vector<ToolDescription> tools);
  DeveloperContent& with_tools(ToolNamespace ns);
  DeveloperContent& with_response_format(ResponseFormat format);
};

struct TextContent {
  std::string text;
};

using Content = std::variant<TextContent, SystemContent, DeveloperContent>;

struct Message {
  Author author;
  std::optional<std::string> recipient;     // "functions.get_weather"; rendered as " to=…" unless "all"
  std::optional<std::string> channel;       // "analysis", "commentary", "final"
  std::optional<std::string> content_type;  // "<|constrain|>json", "code", "json"
  std::vector<Content> content;

  static Message from_role_and_content(Role role, Content content);
  static Message from_role_and_content(Role role, std::string text);
  static Message from_author_and_content(Author author, Content content);
  // A tool's answer to `call`: authored by the called tool, addressed to the
  // assistant on the call's channel, as harmony renders tool results.
  static Message tool_result(const Message& call, std::string output);
  Message& with_channel(std::string value);
  Message& with_recipient(std::string value);
  Message& with_content_type(std::string value);
  Message& adding_content(Content item);

  // The concatenated text items (the body of a parsed message).
  std::string text() const;
};

using Conversation = std::vector<Message>;

// Editing a conversation the way a chat loop needs (it is a plain vector, so
// these are free functions). None of them fails other than by std::bad_alloc,
// which leaves the conversation unchanged.

// The SystemContent of the first system message that holds one, or nullptr.
SystemContent* system_content(Conversation& conversation) noexcept;
const SystemContent* system_content(const Conversation& conversation) noexcept;

// Sets the reasoning effort where harmony renders it, in system_content(); a
// conversation without one first gets a SystemContent::defaults() system
// message at the front. The one place the effort lives: a chat turn renders
// what the conversation says (changing it mid-chat changes the prompt from
// the system message on, so that turn prefills again).
void set_reasoning_effort(Conversation& conversation, ReasoningEffort effort);

// Appends the answer of the tool `tool_name` ("functions.get_weather") as
// harmony expects it: Message::tool_result of the last assistant message
// addressed to `tool_name` (author the tool, recipient "assistant", the
// call's channel), or, when no such call is in the conversation, the same
// on the "commentary" channel.
void add_tool_result(Conversation& conversation, std::string tool_name, std::string output);

// A tool call recovered from an assistant message that has a recipient.
struct ToolCall {
  std::string recipient;       // "functions.get_weather", "browser.search", "python"
  std::string namespace_name;  // "functions", "browser", "python"
  std::string function;        // "get_weather", "search", "" for a bare "python"
  std::string channel;         // "commentary", or "analysis" for built-in tools
  std::string content_type;    // as written: "<|constrain|>json", "json", "code" or ""
  std::string arguments;       // the message text
};
// The call a message makes, or nullopt (not an assistant message, or no recipient).
std::optional<ToolCall> as_tool_call(const Message& message);

// ---------------------------------------------------------------------------
// Harmony's JSON shape (the `messages` of its Python binding and our cases)
// ---------------------------------------------------------------------------

// One message object. Failure: invalid_argument naming the field and why.
Result<Message> message_from_json(std::string_view json) noexcept;
// An array of messages, or an object with a "messages" array.
Result<Conversation> conversation_from_json(std::string_view json) noexcept;
Result<Message> message_from_json_value(const JsonValue& value) noexcept;
Result<Conversation> conversation_from_json_value(const JsonValue& value) noexcept;
// A namespace object {"name", "description"?, "tools": [{"name", "description", "parameters"}]}.
Result<ToolNamespace> tool_namespace_from_json_value(const JsonValue& value) noexcept;
std::string to_json(const Message& message);
std::string to_json(const Conversation& conversation);

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

struct RenderConversationConfig {
  // harmony's rule: when the last assistant message is on `final`, drop every
  // `analysis` message before the first `final` message. (Python's default.)
  bool auto_drop_analysis = true;
};

struct RenderOptions {
  bool conversation_has_function_tools = false;
};

class Renderer {
 public:
  // Failure: whatever loading the tokenizer fails with (out_of_memory).
  static Result<Renderer> create() noexcept;
  explicit Renderer(std::shared_ptr<const Tokenizer> tokenizer) : tokenizer_(std::move(tokenizer)) {}

  // All render calls fail with invalid_argument for what harmony refuses: a
  // tool message without a name, SystemContent outside a system message,
  // DeveloperContent outside a developer message, a schema nested too deep.
  Result<std::vector<TokenId>> render_conversation(const Conversation& messages,
                                                   const RenderConversationConfig& config = {}) const noexcept;
  // The conversation followed by <|start|> and `next_role` (normally assistant).
  Result<std::vector<TokenId>> render_conversation_for_completion(
      const Conversation& messages, Role next_role, const RenderConversationConfig& config = {}) const noexcept;
  // As render_conversation, but a last assistant `final` message ends with <|return|>.
  Result<std::vector<TokenId>> render_conversation_for_training(
      const Conversation& messages, const RenderConversationConfig& config = {}) const noexcept;
  Result<std::vector<TokenId>> render(const Message& message, const RenderOptions& options = {}) const noexcept;
  // Appends instead of returning (no allocation per call once `out` has grown).
  Status render_conversation_into(const Conversation& messages, const RenderConversationConfig& config,
                                  std::vector<TokenId>& out) const noexcept;

  // {<|return|>, <|call|>, <|end|>}: what ends a message (ascending ids).
  std::vector<TokenId> stop_tokens() const;
  // {<|return|>, <|call|>}: what ends sampling. <|end|> does not: the model
  // writes it between its own messages and goes on.
  std::vector<TokenId> stop_tokens_for_assistant_actions() const;

  const std::shared_ptr<const Tokenizer>& tokenizer() const noexcept { return tokenizer_; }

 private:
  std::shared_ptr<const Tokenizer> tokenizer_;
};

// JSON schema → the TypeScript-like type harmony puts in the tools section.
// Failure: invalid_argument when nesting exceeds 64 levels.
Result<std::string> json_schema_to_typescript(const JsonValue& schema) noexcept;

// ---------------------------------------------------------------------------
// Streaming parser
// ---------------------------------------------------------------------------

enum class ParseMode {
  // harmony's default (strict=true): malformed output is an error, with
  // harmony's messages.
  strict,
  // harmony's strict=false: also tolerates a header closed by a stop token
  // without <|message|>; everything else is an error as in strict.
  harmony_lenient,
  // Never fails on model output: every malformed shape is recovered at the
  // next sensible boundary and reported as an anomaly event. The default for
  // generation. Identical to harmony on well-formed output.
  lenient,
};

enum class ParserState { expect_start, header, content };
const char* parser_state_name(ParserState state) noexcept;  // "ExpectStart", "Header", "Content"

enum class AnomalyKind {
  missing_message,     // a header ended (stop token, <|start|>, end of stream) without <|message|>
  stray_token,         // tokens between messages that start nothing; skipped
  missing_start,       // a message began without <|start|> (e.g. <|channel|> right after <|end|>)
  doubled_start,       // <|start|> inside a header
  bad_channel,         // <|channel|> with no value, or junk glued to a known channel name
  unknown_role,        // a header whose role word is missing or unknown
  header_leftover,     // extra words in a header, dropped
  undecodable_header,  // header bytes that are not UTF-8 or ids outside the vocabulary
  invalid_token,       // an id outside the vocabulary in content (becomes U+FFFD)
  missing_end,         // <|start|> inside content: the message is closed there
  bad_recipient,       // a recipient that is not a name (header debris, U+FFFD): dropped, the message is plain
};
const char* anomaly_kind_name(AnomalyKind kind) noexcept;

struct ParseEvent {
  enum class Kind {
    message_start,  // header complete: role, name, channel, recipient, content_type are set
    content_delta,  // text: newly completed UTF-8 of the current message (with its header fields)
    message_end,    // the message is in messages() at message_index
    tool_call,      // after message_end of an assistant message with a recipient; text = arguments
    anomaly,        // lenient recovery; anomaly and text (what was skipped or dropped)
  };
  Kind kind = Kind::content_delta;
  size_t position = 0;       // index in tokens() of the token that caused the event
  size_t message_index = 0;  // index the current message has (or will have) in messages()
  // The message's header, for every kind but anomaly: a content delta says
  // which channel (and recipient) its text belongs to.
  Role role = Role::assistant;
  std::optional<std::string> name, channel, recipient, content_type;
  std::string text;
  AnomalyKind anomaly = AnomalyKind::stray_token;
};

class StreamParser {
 public:
  // `role`: the role whose header the prompt already opened (assistant, after
  // "<|start|>assistant"); nullopt when the input begins with <|start|>.
  StreamParser(std::shared_ptr<const Tokenizer> tokenizer, std::optional<Role> role,
               ParseMode mode = ParseMode::lenient);
  ~StreamParser();
  StreamParser(StreamParser&&) noexcept;
  StreamParser& operator=(StreamParser&&) noexcept;

  // Feeds one token; appends what happened to `events` when given.
  // Failure (strict modes only): invalid_argument with harmony's message; the
  // parser then refuses further input with the same status. Lenient mode
  // fails only for out_of_memory.
  Status push(TokenId token, std::vector<ParseEvent>* events = nullptr) noexcept;
  // End of stream: closes an open message. Same failure rules as push.
  Status finish(std::vector<ParseEvent>* events = nullptr) noexcept;

  ParserState state() const noexcept;
  std::optional<Role> current_role() const;
  std::optional<std::string> current_channel() const;
  std::optional<std::string> current_recipient() const;
  std::optional<std::string> current_content_type() const;
  // Text of the message in progress (empty outside content).
  std::string current_content() const;
  // Text the last token completed; nullopt if it completed none.
  const std::optional<std::string>& last_content_delta() const noexcept;
  const std::vector<Message>& messages() const noexcept;
  const std::vector<TokenId>& tokens() const noexcept;
  // The messages parsed so far, moved out (the parser keeps none).
  std::vector<Message> take_messages() noexcept;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// harmony's parse_messages_from_completion_tokens: every token, then end of stream.
Result<std::vector<Message>> parse_messages_from_completion_tokens(std::shared_ptr<const Tokenizer> tokenizer,
                                                                   std::span<const TokenId> tokens,
                                                                   std::optional<Role> role,
                                                                   ParseMode mode = ParseMode::strict) noexcept;

}  // namespace ossrt::harmony
