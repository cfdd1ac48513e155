// The files `ossrt chat` writes with /save FILE and resumes with /load FILE:
//   FILE        the conversation as harmony JSON messages: the record of the
//               chat (readable, editable, read by conversation_from_json);
//   FILE.state  the session's state (Session::save_state_file): its tokens
//               and KV cache, so resuming skips prefilling the history.
// The conversation decides what the next turn sees: a state that does not
// match it only costs a prefill (the next turn reuses the common prefix).
#pragma once

#include <filesystem>
#include <string>

#include "ossrt/ossrt.hpp"

namespace ossrt_cli {

std::filesystem::path session_state_path(const std::filesystem::path& file);  // FILE.state

// Writes FILE and FILE.state. Failure: io_error naming the path.
ossrt::Status save_chat(const std::filesystem::path& file, const ossrt::harmony::Conversation& conversation,
                        const ossrt::Session& session);

// Reads FILE into `conversation` and FILE.state into `session`. A state that
// cannot be restored (missing, another model, longer than the context) is no
// failure: the session is reset, `note` says why, and the next turn prefills
// the history. Failure: io_error (FILE unreadable), invalid_argument (not a
// conversation, or one that does not render); `conversation` and `session`
// are then unchanged.
ossrt::Status load_chat(const std::filesystem::path& file, const ossrt::harmony::Renderer& renderer,
                        ossrt::harmony::Conversation& conversation, ossrt::Session& session, std::string& note);

}  // namespace ossrt_cli
