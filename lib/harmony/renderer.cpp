// Rendering messages into token ids exactly as harmony does: each header
// piece and each content item is BPE-encoded on its own (ordinary text,
// never special), formatting tokens are inserted as ids.
#include <algorithm>

#include "harmony/typescript_schema.h"
#include "ossrt/harmony.hpp"
#include "util/errors.h"
#include "util/strings.h"

namespace ossrt::harmony {
namespace {

constexpr std::string_view kConstrainMarker = "<|constrain|>";

class TokenWriter {
 public:
  TokenWriter(const Tokenizer& tokenizer, std::vector<TokenId>& out) : tokenizer_(tokenizer), out_(out) {}

  Status text(std::string_view text) {
    if (text.empty()) return Status();
    auto ids = tokenizer_.encode(text, AllowedSpecials::none());
    if (!ids.ok()) return ids.status();
    out_.insert(out_.end(), ids.value().begin(), ids.value().end());
    return Status();
  }

  void special(SpecialToken token) { out_.push_back(tokenizer_.special_id(token)); }

 private:
  const Tokenizer& tokenizer_;
  std::vector<TokenId>& out_;
};

Result<std::string> system_body(const SystemContent& system, const RenderOptions& options) {
  std::vector<std::string> sections;
  std::vector<std::string> top;
  if (system.model_identity) top.push_back(*system.model_identity);
  if (system.knowledge_cutoff) top.push_back("Knowledge cutoff: " + *system.knowledge_cutoff);
  if (system.conversation_start_date) top.push_back("Current date: " + *system.conversation_start_date);
  if (!top.empty()) sections.push_back(join(top, "\n"));
  if (system.reasoning_effort)
    sections.push_back(std::string("Reasoning: ") + reasoning_effort_name(*system.reasoning_effort));
  if (system.tools && !system.tools->empty()) {
    auto tools = tools_section(*system.tools);
    if (!tools.ok()) return tools.status();
    sections.push_back(std::move(tools).value());
  }
  if (system.channel_config && !system.channel_config->valid_channels.empty()) {
    std::string channels = "# Valid channels: " + join(system.channel_config->valid_channels, ", ") + ".";
    if (system.channel_config->channel_required) channels += " Channel must be included for every message.";
    if (options.conversation_has_function_tools)
      channels += "\nCalls to these tools must go to the commentary channel: 'functions'.";
    sections.push_back(std::move(channels));
  }
  return join(sections, "\n\n");
}

Result<std::string> developer_body(const DeveloperContent& developer) {
  std::vector<std::string> sections;
  if (developer.instructions) {
    sections.push_back("# Instructions");
    sections.push_back(*developer.instructions);
  }
  if (developer.tools && !developer.tools->empty()) {
    auto tools = tools_section(*developer.tools);
    if (!tools.ok()) return tools.status();
    sections.push_back(std::move(tools).value());
  }
  if (!developer.response_formats.empty()) sections.push_back("# Response Formats");
  for (const ResponseFormat& format : developer.response_formats) {
    sections.push_back("## " + format.name);
    std::string body = format.description ? "// " + *format.description + "\n" : std::string();
    format.schema.dump_to(body);
    sections.push_back(std::move(body));
  }
  return join(sections, "\n\n");
}

Status render_content(const Message& message, const Content& item, const RenderOptions& options, TokenWriter& writer) {
  if (const auto* text = std::get_if<TextContent>(&item)) return writer.text(text->text);
  if (const auto* system = std::get_if<SystemContent>(&item)) {
    if (message.author.role != Role::system)
      return error(StatusCode::invalid_argument,
                   "SystemContent may only appear in system messages, found in a %s message",
                   role_name(message.author.role));
    auto body = system_body(*system, options);
    return body.ok() ? writer.text(body.value()) : body.status();
  }
  const auto& developer = std::get<DeveloperContent>(item);
  if (message.author.role != Role::developer)
    return error(StatusCode::invalid_argument,
                 "DeveloperContent may only appear in developer messages, found in a %s message",
                 role_name(message.author.role));
  auto body = developer_body(developer);
  return body.ok() ? writer.text(body.value()) : body.status();
}

Status render_message(const Message& message, const RenderOptions& options, TokenWriter& writer) {
  writer.special(SpecialToken::start);
  Status status;
  if (message.author.role == Role::tool) {
    if (!message.author.name)
      return Status(StatusCode::invalid_argument,
                    "a tool message needs the tool's name as its author (harmony: Tools should have a name!)");
    status = writer.text(*message.author.name);
  } else {
    status = writer.text(role_name(message.author.role));
    if (status.ok() && message.author.name) status = writer.text(":" + *message.author.name);
  }
  if (status.ok() && message.recipient && *message.recipient != "all")
    status = writer.text(" to=" + *message.recipient);
  if (status.ok() && message.channel) {
    writer.special(SpecialToken::channel);
    status = writer.text(*message.channel);
  }
  if (status.ok() && message.content_type) {
    const std::string& type = *message.content_type;
    if (type.compare(0, kConstrainMarker.size(), kConstrainMarker) == 0) {
      status = writer.text(" ");
      writer.special(SpecialToken::constrain);
      if (status.ok()) status = writer.text(std::string_view(type).substr(kConstrainMarker.size()));
    } else {
      status = writer.text(" " + type);
    }
  }
  if (!status.ok()) return status;
  writer.special(SpecialToken::message);
  for (const Content& item : message.content)
    if (Status item_status = render_content(message, item, options, writer); !item_status.ok()) return item_status;
  // A recipient on an assistant message makes it a call, even "all" (which is not printed).
  const bool is_call = message.author.role == Role::assistant && message.recipient.has_value();
  writer.special(is_call ? SpecialToken::call : SpecialToken::end);
  return Status();
}

bool has_function_tools(const Conversation& messages) {
  for (const Message& message : messages)
    for (const Content& item : message.content)
      if (const auto* developer = std::get_if<DeveloperContent>(&item); developer && developer->tools) {
        auto it = developer->tools->find("functions");
        if (it != developer->tools->end() && !it->second.tools.empty()) return true;
      }
  return false;
}

bool is_channel(const Message& message, std::string_view channel) {
  return message.channel && *message.channel == channel;
}

}  // namespace

Result<Renderer> Renderer::create() noexcept {
  auto tokenizer = Tokenizer::o200k_harmony();
  if (!tokenizer.ok()) return tokenizer.status();
  return Renderer(tokenizer.value());
}

Status Renderer::render_conversation_into(const Conversation& messages, const RenderConversationConfig& config,
                                          std::vector<TokenId>& out) const noexcept {
  return guard("render_conversation", [&]() -> Status {
    RenderOptions options;
    options.conversation_has_function_tools = has_function_tools(messages);
    // harmony's auto_drop_analysis: only when the last assistant message is
    // final, and only analysis before the first final message (of any role).
    bool last_assistant_is_final = false;
    for (auto it = messages.rbegin(); it != messages.rend(); ++it)
      if (it->author.role == Role::assistant) {
        last_assistant_is_final = is_channel(*it, "final");
        break;
      }
    const bool drop_analysis = config.auto_drop_analysis && last_assistant_is_final;
    const auto first_final =
        std::find_if(messages.begin(), messages.end(), [](const Message& m) { return is_channel(m, "final"); });
    TokenWriter writer(*tokenizer_, out);
    for (auto it = messages.begin(); it != messages.end(); ++it) {
      if (drop_analysis && it < first_final && is_channel(*it, "analysis")) continue;
      if (Status status = render_message(*it, options, writer); !status.ok()) {
        return Status(status.code(), "messages[" + std::to_string(it - messages.begin()) + "]: " + status.message());
      }
    }
    return Status();
  });
}

Result<std::vector<TokenId>> Renderer::render_conversation(const Conversation& messages,
                                                           const RenderConversationConfig& config) const noexcept {
  std::vector<TokenId> out;
  if (Status status = render_conversation_into(messages, config, out); !status.ok()) return status;
  return out;
}

Result<std::vector<TokenId>> Renderer::render_conversation_for_completion(
    const Conversation& messages, Role next_role, const RenderConversationConfig& config) const noexcept {
  std::vector<TokenId> out;
  if (Status status = render_conversation_into(messages, config, out); !status.ok()) return status;
  return guard("render_conversation_for_completion", [&]() -> Result<std::vector<TokenId>> {
    TokenWriter writer(*tokenizer_, out);
    writer.special(SpecialToken::start);
    if (Status status = writer.text(role_name(next_role)); !status.ok()) return status;
    return std::move(out);
  });
}

Result<std::vector<TokenId>> Renderer::render_conversation_for_training(
    const Conversation& messages, const RenderConversationConfig& config) const noexcept {
  std::vector<TokenId> out;
  if (Status status = render_conversation_into(messages, config, out); !status.ok()) return status;
  if (!messages.empty() && messages.back().author.role == Role::assistant && is_channel(messages.back(), "final") &&
      !out.empty())
    out.back() = tokenizer_->special_id(SpecialToken::return_);
  return out;
}

Result<std::vector<TokenId>> Renderer::render(const Message& message, const RenderOptions& options) const noexcept {
  return guard("render", [&]() -> Result<std::vector<TokenId>> {
    std::vector<TokenId> out;
    TokenWriter writer(*tokenizer_, out);
    if (Status status = render_message(message, options, writer); !status.ok()) return status;
    return out;
  });
}

std::vector<TokenId> Renderer::stop_tokens() const {
  std::vector<TokenId> ids{tokenizer_->special_id(SpecialToken::return_), tokenizer_->special_id(SpecialToken::call),
                           tokenizer_->special_id(SpecialToken::end)};
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<TokenId> Renderer::stop_tokens_for_assistant_actions() const {
  std::vector<TokenId> ids{tokenizer_->special_id(SpecialToken::return_), tokenizer_->special_id(SpecialToken::call)};
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace ossrt::harmony
