#include "reply_builder.h"

namespace ossrt_server {

using ossrt::harmony::ParseEvent;

namespace {

// Only calls to the functions namespace are the client's; other recipients
// (built-in browser or python tools the client did not declare) are text.
bool is_function_call(const ParseEvent& event) {
  return event.role == ossrt::harmony::Role::assistant && event.recipient && event.recipient->starts_with("functions.");
}

}  // namespace

void ReplyBuilder::emit(ReplyDelta delta, std::vector<ReplyDelta>& out) {
  if (delta.text.empty() && delta.kind != ReplyDelta::Kind::tool_call_start) return;
  switch (delta.kind) {
    case ReplyDelta::Kind::reasoning:
      reply_.reasoning += delta.text;
      break;
    case ReplyDelta::Kind::content:
      reply_.content += delta.text;
      break;
    case ReplyDelta::Kind::tool_call_start:
      break;
    case ReplyDelta::Kind::tool_call_arguments:
      reply_.tool_calls[delta.tool_index].arguments += delta.text;
      break;
  }
  out.push_back(std::move(delta));
}

void ReplyBuilder::start_call(const std::string& recipient, std::vector<ReplyDelta>& out) {
  const size_t index = reply_.tool_calls.size();
  ToolCallReply call;
  call.id = "call_" + id_prefix_ + "_" + std::to_string(index);
  call.name = recipient.substr(std::string_view("functions.").size());
  reply_.tool_calls.push_back(std::move(call));
  emit(ReplyDelta{ReplyDelta::Kind::tool_call_start, index, {}}, out);
}

void ReplyBuilder::feed(const ParseEvent& event, std::vector<ReplyDelta>& out) {
  if (event.kind == ParseEvent::Kind::message_start && is_function_call(event)) {
    start_call(*event.recipient, out);
    return;
  }
  if (event.kind != ParseEvent::Kind::content_delta || event.role != ossrt::harmony::Role::assistant) return;
  if (is_function_call(event)) {
    if (reply_.tool_calls.empty()) start_call(*event.recipient, out);  // the parser always starts first
    emit(ReplyDelta{ReplyDelta::Kind::tool_call_arguments, reply_.tool_calls.size() - 1, event.text}, out);
  } else if (event.channel == "analysis") {
    emit(ReplyDelta{ReplyDelta::Kind::reasoning, 0, event.text}, out);
  } else {
    emit(ReplyDelta{ReplyDelta::Kind::content, 0, stop_filter_.push(event.text)}, out);
  }
}

void ReplyBuilder::finish(std::vector<ReplyDelta>& out) {
  emit(ReplyDelta{ReplyDelta::Kind::content, 0, stop_filter_.flush()}, out);
}

}  // namespace ossrt_server
