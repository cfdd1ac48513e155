#include "conversation_edits.h"

#include <algorithm>

namespace ossrt_cli {

using ossrt::harmony::Conversation;
using ossrt::harmony::DeveloperContent;
using ossrt::harmony::Message;
using ossrt::harmony::Role;

namespace {

bool in_preamble(const Message& message) {
  return message.author.role == Role::system || message.author.role == Role::developer;
}

}  // namespace

void set_instructions(Conversation& conversation, const std::string& instructions) {
  const auto preamble_end = conversation.begin() + static_cast<std::ptrdiff_t>(preamble_length(conversation));
  for (auto message = conversation.begin(); message != preamble_end; ++message) {
    if (message->author.role != Role::developer) continue;
    for (auto& item : message->content) {
      auto* developer = std::get_if<DeveloperContent>(&item);
      if (developer == nullptr) continue;
      if (!instructions.empty()) {
        developer->instructions = instructions;
      } else if (developer->tools) {
        developer->instructions.reset();
      } else {
        conversation.erase(message);
      }
      return;
    }
  }
  if (instructions.empty()) return;
  const auto after_system = std::find_if(conversation.begin(), preamble_end,
                                         [](const Message& message) { return message.author.role != Role::system; });
  conversation.insert(after_system, Message::from_role_and_content(Role::developer,
                                                                   DeveloperContent{}.with_instructions(instructions)));
}

size_t preamble_length(const Conversation& conversation) {
  return static_cast<size_t>(std::find_if_not(conversation.begin(), conversation.end(), in_preamble) -
                             conversation.begin());
}

void clear_turns(Conversation& conversation) {
  conversation.resize(preamble_length(conversation));
}

bool drop_oldest_turn(Conversation& conversation) {
  const auto first = conversation.begin() + static_cast<std::ptrdiff_t>(preamble_length(conversation));
  if (first == conversation.end()) return false;
  const auto next_user = std::find_if(first + 1, conversation.end(),
                                      [](const Message& message) { return message.author.role == Role::user; });
  conversation.erase(first, next_user);
  return true;
}

}  // namespace ossrt_cli
