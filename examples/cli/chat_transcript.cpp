#include "chat_transcript.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace ossrt_cli {
namespace {

ossrt::Status io_error(const std::filesystem::path& path, const char* what) {
  return ossrt::Status(ossrt::StatusCode::io_error, path.string() + ": " + what + ": " + std::strerror(errno));
}

}  // namespace

std::filesystem::path session_state_path(const std::filesystem::path& file) {
  std::filesystem::path state = file;
  state += ".state";
  return state;
}

ossrt::Status save_chat(const std::filesystem::path& file, const ossrt::harmony::Conversation& conversation,
                        const ossrt::Session& session) {
  if (ossrt::Status st = session.save_state_file(session_state_path(file)); !st.ok()) return st;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  if (!out) return io_error(file, "cannot open for writing");
  out << ossrt::harmony::to_json(conversation) << '\n';
  out.close();
  if (!out) return io_error(file, "cannot write");
  return ossrt::Status::success();
}

ossrt::Status load_chat(const std::filesystem::path& file, const ossrt::harmony::Renderer& renderer,
                        ossrt::harmony::Conversation& conversation, ossrt::Session& session, std::string& note) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return io_error(file, "cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return io_error(file, "cannot read");
  auto loaded = ossrt::harmony::conversation_from_json(text.str());
  if (!loaded.ok()) {
    return ossrt::Status(ossrt::StatusCode::invalid_argument, file.string() + ": " + loaded.status().message());
  }
  auto rendered = renderer.render_conversation_for_completion(loaded.value(), ossrt::harmony::Role::assistant);
  if (!rendered.ok()) {
    return ossrt::Status(ossrt::StatusCode::invalid_argument, file.string() + ": " + rendered.status().message());
  }
  conversation = std::move(loaded.value());
  note.clear();
  if (ossrt::Status st = session.restore_state_file(session_state_path(file)); !st.ok()) {
    session.reset();
    note = st.to_string() + " (the history is prefilled at the next turn)";
  }
  return ossrt::Status::success();
}

}  // namespace ossrt_cli
