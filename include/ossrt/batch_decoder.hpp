// Decoding several conversations of one model together: one forward pass
// advances every session by one token, reading each weight once for all of
// them where separate sessions read it once each (decode is bound by those
// reads). Each session keeps its own KV cache and position.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "ossrt/model.hpp"
#include "ossrt/session.hpp"
#include "ossrt/status.hpp"
#include "ossrt/tokenizer.hpp"

namespace ossrt {

class BatchDecoder {
 public:
  // A decoder for up to `max_sessions` sessions per step (its scratch is
  // sized for that many rows). Failure: invalid_argument (null model,
  // max_sessions 0 or over 4096), out_of_memory.
  static Result<std::unique_ptr<BatchDecoder>> create(std::shared_ptr<const Model> model, size_t max_sessions) noexcept;
  ~BatchDecoder();
  BatchDecoder(const BatchDecoder&) = delete;
  BatchDecoder& operator=(const BatchDecoder&) = delete;

  // Appends tokens[i] to sessions[i] for every i in one forward pass.
  // Success: each session is as if session->append({tokens[i]}) had run
  // alone: its tokens, its cache and its logits() (the same sums in exact
  // numerics but for their order: within 1e-5; the same greedy tokens).
  // The sessions must be distinct, of this decoder's model, of one numerics
  // mode, each with room for one more token; at most max_sessions of them.
  // Failure (no session changed): invalid_argument (sizes, a null, repeated
  // or foreign session, mixed numerics; the message names the index),
  // invalid_token, context_overflow (naming the session's index), cancelled
  // (cancel()), device_error, out_of_memory; invalid_state when a weights
  // file changed. invalid_checkpoint when a row's logits are not finite:
  // every token was appended, that session has no logits.
  // Thread rules: one step at a time per decoder; none of the sessions may be
  // used by another thread during the step.
  Status step(std::span<Session* const> sessions, std::span<const TokenId> tokens) noexcept;

  // Stops the current step between layers, or the next one if none runs
  // (it then returns cancelled and changes no session). Any thread.
  void cancel() noexcept;

  size_t max_sessions() const noexcept;

 private:
  struct Impl;
  explicit BatchDecoder(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ossrt
