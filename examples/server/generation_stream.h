// GenerationStream: one request's channel between the decode scheduler's
// thread (which produces harmony parse events and the outcome) and the HTTP
// thread that writes them to the client (which consumes them, and cancels
// when the client has gone).
//
// Thread rules: every member is safe from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include "ossrt/harmony.hpp"
#include "ossrt/status.hpp"

namespace ossrt_server {

enum class FinishReason { stop, length, tool_calls, cancelled };
// OpenAI's name: "stop", "length", "tool_calls", "cancelled".
const char* finish_reason_name(FinishReason reason) noexcept;

struct GenerationOutcome {
  ossrt::Status status;  // not ok: the request failed (the message says why)
  FinishReason finish_reason = FinishReason::stop;
  size_t prompt_tokens = 0;
  size_t cached_tokens = 0;  // of the prompt, reused from a pool session's cache
  size_t completion_tokens = 0;
  size_t reasoning_tokens = 0;  // of those, on the analysis channel
};

class GenerationStream {
 public:
  // Producer side (the scheduler).
  void publish(std::vector<ossrt::harmony::ParseEvent> events);
  void finish(GenerationOutcome outcome);

  // Consumer side: waits up to `timeout` for events, then moves the pending
  // ones into `events`. `ended` once the generation has ended and every event
  // was taken (outcome() is then final); `idle` when the time ran out first
  // (a streaming writer then probes its client).
  enum class Wait { events, idle, ended };
  Wait next(std::vector<ossrt::harmony::ParseEvent>& events, std::chrono::milliseconds timeout);
  const GenerationOutcome& outcome() const noexcept { return outcome_; }

  // Asks the scheduler to stop this request (client gone, a stop string
  // matched). Its outcome then says `reason` (cancelled or stop).
  void cancel(FinishReason reason = FinishReason::cancelled) noexcept;
  bool cancel_requested() const noexcept { return cancel_requested_.load(); }
  FinishReason cancel_reason() const noexcept { return cancel_reason_.load(); }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<ossrt::harmony::ParseEvent> pending_;
  bool done_ = false;
  GenerationOutcome outcome_;
  std::atomic<bool> cancel_requested_{false};
  std::atomic<FinishReason> cancel_reason_{FinishReason::cancelled};
};

}  // namespace ossrt_server
