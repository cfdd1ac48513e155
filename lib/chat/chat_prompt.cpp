// The prompt of a chat turn: the conversation with the turn's response
// format shown in its developer message, rendered for the assistant.
#include <algorithm>

#include "ossrt/chat.hpp"
#include "util/errors.h"

namespace ossrt {

using namespace harmony;

Result<Conversation> with_response_format(const Conversation& conversation, ResponseFormat format) noexcept {
  return guard("with_response_format", [&]() -> Result<Conversation> {
    Conversation shown = conversation;
    for (Message& message : shown)
      for (Content& item : message.content)
        if (auto* developer = std::get_if<DeveloperContent>(&item);
            developer && message.author.role == Role::developer) {
          const auto& listed = developer->response_formats;
          if (std::none_of(listed.begin(), listed.end(),
                           [&](const ResponseFormat& f) { return f.name == format.name; }))
            developer->with_response_format(std::move(format));
          return shown;
        }
    auto after_system = std::find_if(shown.begin(), shown.end(),
                                     [](const Message& message) { return message.author.role != Role::system; });
    shown.insert(after_system,
                 Message::from_role_and_content(Role::developer, DeveloperContent{}.with_response_format(format)));
    return shown;
  });
}

Result<std::vector<TokenId>> render_chat_prompt(const Renderer& renderer, const Conversation& conversation,
                                                const ChatOptions& options) noexcept {
  return guard("render_chat_prompt", [&]() -> Result<std::vector<TokenId>> {
    if (options.response_format_schema.empty())
      return renderer.render_conversation_for_completion(conversation, Role::assistant, options.render);
    // The parser's depth limit may refuse a schema the grammar compiler took.
    auto schema = JsonValue::parse(options.response_format_schema);
    if (!schema.ok()) return Status(schema.status().code(), "response_format: " + schema.status().message());
    auto shown = with_response_format(
        conversation,
        ResponseFormat{options.response_format_name, options.response_format_description, std::move(schema).value()});
    if (!shown.ok()) return shown.status();
    return renderer.render_conversation_for_completion(shown.value(), Role::assistant, options.render);
  });
}

}  // namespace ossrt
