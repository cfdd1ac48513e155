// DecodeScheduler: the server's requests on one ossrt::Scheduler. A thread
// owns a pool of sessions and steps the scheduler while work exists: every
// request's session joins it, so a new request's prompt is prefilled in
// chunks within the steps that keep the other requests decoding (no client's
// stream stalls behind another's long prompt). A request joins in the idle
// pool session whose cached tokens share the longest prefix with its prompt,
// and only the rest is prefilled (GenerationRequest::reuse_prefix), so a
// multi-turn conversation does not prefill its history again. Structured
// output masks the request's logits through the scheduler's logits hook; its
// tokens are parsed as they are sampled (on_token). A client that goes away
// cancels its request at the next step, also during its prefill; a finished
// request's session leaves the scheduler and returns to the pool.
//
// Thread rules: submit(), stop() and counts() from any thread; the stream's
// events and outcome arrive from the scheduler's thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "generation_stream.h"
#include "ossrt/chat_constraint.hpp"
#include "ossrt/harmony.hpp"
#include "ossrt/sampler.hpp"
#include "ossrt/scheduler.hpp"
#include "ossrt/session.hpp"

namespace ossrt_server {

struct GenerationJob {
  std::vector<ossrt::TokenId> prompt;  // rendered for completion by the assistant
  ossrt::Sampler sampler;
  size_t max_tokens = 0;  // sampled tokens at most (the stop token included); at least 1
  std::shared_ptr<GenerationStream> stream;
  // Structured output: masks this job's logits before each sample while the
  // model writes a constrained message; none = sampled as is.
  std::optional<ossrt::ChatConstraint> constraint;
};

class DecodeScheduler {
 public:
  // A pool of `max_sessions` sessions (created lazily, `session_options`
  // each) on a scheduler whose steps run at most `max_step_tokens` tokens (0:
  // the larger of 64 and max_sessions): smaller steps keep the decoding
  // requests' tokens coming faster while a long prompt prefills.
  // Failure: Scheduler::create's (invalid_argument for max_step_tokens below
  // max_sessions), Tokenizer's, Session::create's.
  static ossrt::Result<std::unique_ptr<DecodeScheduler>> create(std::shared_ptr<const ossrt::Model> model,
                                                                ossrt::SessionOptions session_options,
                                                                size_t max_sessions,
                                                                size_t max_step_tokens = 0) noexcept;
  ~DecodeScheduler();  // stop()s
  DecodeScheduler(const DecodeScheduler&) = delete;
  DecodeScheduler& operator=(const DecodeScheduler&) = delete;

  // Queues a job; its stream receives the parse events of what the model
  // writes and then the outcome (a failure such as context_overflow arrives
  // as the outcome's status). Never blocks on decoding.
  void submit(GenerationJob job);
  // Finishes every queued and running job as cancelled and joins the thread.
  void stop() noexcept;

  struct Counts {
    size_t running = 0;     // queued or generating
    size_t prefilling = 0;  // of those, joined with their prompt not yet all prefilled (no token yet)
    size_t finished = 0;    // ended by the model, a limit or a failure
    size_t cancelled = 0;   // ended early by their client (stop strings excluded)
    size_t sessions = 0;    // sessions open (each holds its KV cache), at most max_sessions
  };
  Counts counts() const noexcept;

  // Tokens a prompt may take at most (the sessions' context length).
  size_t context_length() const noexcept { return context_length_; }
  const std::shared_ptr<const ossrt::Tokenizer>& tokenizer() const noexcept { return tokenizer_; }

  struct Impl;

 private:
  DecodeScheduler() = default;
  void run() noexcept;

  std::unique_ptr<Impl> impl_;
  std::shared_ptr<const ossrt::Tokenizer> tokenizer_;
  size_t context_length_ = 0;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<GenerationJob> queued_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ossrt_server
