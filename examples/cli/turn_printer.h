// Prints a chat turn's events as they stream: the final channel, the
// reasoning (analysis channel, only when asked) before it, dimmed with ANSI
// codes when `dim`, and tool calls, a line each, on the notes stream.
#pragma once

#include <cstdio>
#include <string>

#include "ossrt/harmony.hpp"

namespace ossrt_cli {

class TurnPrinter {
 public:
  // Replies go to `out`, tool calls to `notes`.
  TurnPrinter(bool show_reasoning, bool dim, std::FILE* out = stdout, std::FILE* notes = stderr)
      : show_reasoning_(show_reasoning), dim_(dim), out_(out), notes_(notes) {}
  // Always returns true (printing never ends a turn).
  bool operator()(const ossrt::harmony::ParseEvent& event);
  // Closes reasoning a cut turn left open (ends the dimming) and the answer's line.
  void end_turn();

 private:
  bool showing_reasoning() const { return show_reasoning_ && channel_ == "analysis"; }
  bool show_reasoning_, dim_;
  std::FILE* out_;
  std::FILE* notes_;
  void close_reasoning();
  std::string channel_;          // of the message in progress
  bool reasoning_open_ = false;  // "[reasoning] " printed, its end not yet
};

}  // namespace ossrt_cli
