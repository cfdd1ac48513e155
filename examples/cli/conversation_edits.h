// The edits `ossrt chat` makes to its harmony conversation: the system and
// developer messages at its start (the preamble) and the turns after them.
// (The reasoning effort is the library's ossrt::harmony::set_reasoning_effort.)
#pragma once

#include <cstddef>
#include <string>

#include "ossrt/harmony.hpp"

namespace ossrt_cli {

// Sets the instructions of the preamble's developer message (added after the
// system messages when there is none); empty `instructions` removes them (and
// the developer message, unless it also declares tools).
void set_instructions(ossrt::harmony::Conversation& conversation, const std::string& instructions);

// Messages of the preamble: the leading system and developer messages.
size_t preamble_length(const ossrt::harmony::Conversation& conversation);

// Drops every message after the preamble.
void clear_turns(ossrt::harmony::Conversation& conversation);

// Drops the oldest turn (a user message and the messages up to the next
// one; anything between the preamble and the first user message counts as
// part of it). Returns false when there is no turn left.
bool drop_oldest_turn(ossrt::harmony::Conversation& conversation);

}  // namespace ossrt_cli
