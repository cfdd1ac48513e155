// ReplyBuilder: the harmony parse events of one generation turned into what
// the OpenAI APIs speak of: reasoning text (the analysis channel), answer
// text (final, and commentary addressed to no one) with the request's stop
// strings applied, and function calls (messages to functions.NAME). Each
// event yields the deltas a stream sends; the builder also keeps the whole
// reply for a non-streamed answer.
//
// Thread rules: one thread at a time.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "ossrt/harmony.hpp"
#include "stop_string_filter.h"

namespace ossrt_server {

struct ToolCallReply {
  std::string id;  // "call_<request id>_<index>"
  std::string name;
  std::string arguments;
};

struct ReplyDelta {
  enum class Kind { reasoning, content, tool_call_start, tool_call_arguments };
  Kind kind = Kind::content;
  size_t tool_index = 0;  // tool_call_*: which call
  std::string text;       // reasoning / content / arguments text
};

struct Reply {
  std::string reasoning;
  std::string content;
  std::vector<ToolCallReply> tool_calls;
};

class ReplyBuilder {
 public:
  // `id_prefix` names the tool calls ("call_<prefix>_<index>").
  ReplyBuilder(std::vector<std::string> stops, std::string id_prefix)
      : stop_filter_(std::move(stops)), id_prefix_(std::move(id_prefix)) {}

  // Appends the deltas `event` makes to `out`.
  void feed(const ossrt::harmony::ParseEvent& event, std::vector<ReplyDelta>& out);
  // At the end: the answer text held back by the stop filter.
  void finish(std::vector<ReplyDelta>& out);
  // A stop string ended the answer: the generation should stop.
  bool stop_matched() const noexcept { return stop_filter_.stopped(); }
  const Reply& reply() const noexcept { return reply_; }

 private:
  void start_call(const std::string& recipient, std::vector<ReplyDelta>& out);
  void emit(ReplyDelta delta, std::vector<ReplyDelta>& out);

  StopStringFilter stop_filter_;
  std::string id_prefix_;
  Reply reply_;
};

}  // namespace ossrt_server
