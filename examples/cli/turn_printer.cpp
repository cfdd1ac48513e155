#include "turn_printer.h"

#include <cstdio>

namespace ossrt_cli {

bool TurnPrinter::operator()(const ossrt::harmony::ParseEvent& event) {
  using Kind = ossrt::harmony::ParseEvent::Kind;
  switch (event.kind) {
    case Kind::message_start:
      channel_ = event.channel.value_or("");
      if (showing_reasoning()) {
        std::fputs(dim_ ? "\x1b[2m[reasoning] " : "[reasoning] ", out_);
        reasoning_open_ = true;
      }
      break;
    case Kind::content_delta:
      // A message without a channel and recipient is an answer too.
      if (channel_ == "final" || (channel_.empty() && !event.recipient) || showing_reasoning()) {
        std::fwrite(event.text.data(), 1, event.text.size(), out_);
        std::fflush(out_);
      }
      break;
    case Kind::message_end:
      close_reasoning();
      break;
    case Kind::tool_call:
      std::fprintf(notes_, "[tool call to %s: %s]\n", event.recipient.value_or("?").c_str(), event.text.c_str());
      break;
    case Kind::anomaly:
      break;
  }
  return true;
}

void TurnPrinter::close_reasoning() {
  if (!reasoning_open_) return;
  std::fputs(dim_ ? "\x1b[0m\n" : "\n", out_);
  reasoning_open_ = false;
}

void TurnPrinter::end_turn() {
  close_reasoning();
  std::fputs("\n", out_);
  std::fflush(out_);
}

}  // namespace ossrt_cli
