// Prints a chat turn's events as they stream: the final channel to stdout,
// the reasoning (analysis channel, only when asked) to stdout before it,
// dimmed with ANSI codes when `dim`, and tool calls to stderr, a line each.
#pragma once

#include <string>

#include "ossrt/harmony.hpp"

namespace ossrt_cli {

class TurnPrinter {
 public:
  TurnPrinter(bool show_reasoning, bool dim) : show_reasoning_(show_reasoning), dim_(dim) {}
  // Always returns true (printing never ends a turn).
  bool operator()(const ossrt::harmony::ParseEvent& event);
  // Closes reasoning a cut turn left open (ends the dimming) and the answer's line.
  void end_turn();

 private:
  bool showing_reasoning() const { return show_reasoning_ && channel_ == "analysis"; }
  bool show_reasoning_, dim_;
  void close_reasoning();
  std::string channel_;          // of the message in progress
  bool reasoning_open_ = false;  // "[reasoning] " printed, its end not yet
};

}  // namespace ossrt_cli
