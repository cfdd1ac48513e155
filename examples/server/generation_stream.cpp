#include "generation_stream.h"

namespace ossrt_server {

const char* finish_reason_name(FinishReason reason) noexcept {
  switch (reason) {
    case FinishReason::stop:
      return "stop";
    case FinishReason::length:
      return "length";
    case FinishReason::tool_calls:
      return "tool_calls";
    case FinishReason::cancelled:
      return "cancelled";
  }
  return "stop";
}

void GenerationStream::publish(std::vector<ossrt::harmony::ParseEvent> events) {
  if (events.empty()) return;
  {
    std::lock_guard lock(mutex_);
    for (auto& event : events) pending_.push_back(std::move(event));
  }
  changed_.notify_all();
}

void GenerationStream::finish(GenerationOutcome outcome) {
  {
    std::lock_guard lock(mutex_);
    outcome_ = std::move(outcome);
    done_ = true;
  }
  changed_.notify_all();
}

GenerationStream::Wait GenerationStream::next(std::vector<ossrt::harmony::ParseEvent>& events,
                                              std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!changed_.wait_for(lock, timeout, [&] { return done_ || !pending_.empty(); })) return Wait::idle;
  if (pending_.empty()) return Wait::ended;
  events.swap(pending_);
  pending_.clear();
  return Wait::events;
}

void GenerationStream::cancel(FinishReason reason) noexcept {
  // The reason first: the scheduler reads it once it sees the flag.
  if (!cancel_requested_.load()) cancel_reason_.store(reason);
  cancel_requested_.store(true);
}

}  // namespace ossrt_server
