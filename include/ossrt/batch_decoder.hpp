// Decoding several conversations of one model together: one forward pass
// advances every session, reading each weight once for all of them where
// separate sessions read it once each (decode is bound by those reads). A
// step appends one token to a decoding session and a chunk of prompt tokens
// to a prefilling one, side by side. Each session keeps its own KV cache and
// position. ossrt::Scheduler (scheduler.hpp) drives it for whole generations.
#pragma once

#include <cstddef>
#include <memory>
#include <span>

#include "ossrt/model.hpp"
#include "ossrt/session.hpp"
#include "ossrt/status.hpp"
#include "ossrt/tokenizer.hpp"

namespace ossrt {

// The tokens one step appends to one session: one for a decode, a prompt
// chunk for a prefill.
struct SessionChunk {
  Session* session = nullptr;
  std::span<const TokenId> tokens;
};

class BatchDecoder {
 public:
  // A decoder for steps of up to `max_sessions` sessions and
  // `max_step_tokens` tokens in all (its scratch is sized for that many rows;
  // one-token steps need max_step_tokens >= max_sessions, the default).
  // Failure: invalid_argument (null model, max_sessions 0 or over 4096,
  // max_step_tokens below max_sessions or over 65536), out_of_memory.
  static Result<std::unique_ptr<BatchDecoder>> create(std::shared_ptr<const Model> model, size_t max_sessions,
                                                      size_t max_step_tokens = 0) noexcept;
  ~BatchDecoder();
  BatchDecoder(const BatchDecoder&) = delete;
  BatchDecoder& operator=(const BatchDecoder&) = delete;

  // Appends chunks[i].tokens to chunks[i].session for every i in one forward
  // pass (a mixed step: decodes and prompt chunks of several sessions).
  // Success: each session is as if session->append(chunks[i].tokens) had run
  // alone: its tokens, its cache and its logits() (those of its chunk's last
  // token; the same sums in exact numerics but for their order: within 1e-5;
  // the same greedy tokens). The sessions must be distinct, of this
  // decoder's model, of one numerics mode; each chunk 1 to the session's
  // max_batch_tokens tokens (its sliding-window ring holds the window behind
  // that many new keys, no more) with room in its context; at most
  // max_sessions chunks and max_step_tokens tokens in all.
  // Failure (no session changed): invalid_argument (sizes, an empty or too
  // long chunk, a null, repeated or foreign session, mixed numerics; the
  // message names the index), invalid_token, context_overflow (naming the
  // session's index), cancelled (cancel()), device_error, out_of_memory;
  // invalid_state when a weights file changed. invalid_checkpoint when a
  // session's logits are not finite: every chunk was appended, that session
  // has no logits (the others have theirs).
  // Thread rules: one step at a time per decoder; none of the sessions may be
  // used by another thread during the step.
  Status step(std::span<const SessionChunk> chunks) noexcept;

  // Appends tokens[i] to sessions[i] for every i in one forward pass: step()
  // with one-token chunks, with its contract (sizes: as many tokens as
  // sessions).
  Status step(std::span<Session* const> sessions, std::span<const TokenId> tokens) noexcept;

  // Stops the current step between layers, or the next one if none runs
  // (it then returns cancelled and changes no session). Any thread.
  void cancel() noexcept;

  size_t max_sessions() const noexcept;
  size_t max_step_tokens() const noexcept;

 private:
  struct Impl;
  explicit BatchDecoder(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ossrt
