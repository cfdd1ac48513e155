// Session: one conversation's token history and KV cache over a shared Model.
//
// Thread rules: a Session is used by one thread at a time (no internal
// locking); different Sessions over the same Model may run concurrently.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "ossrt/model.hpp"
#include "ossrt/sampler.hpp"
#include "ossrt/status.hpp"

namespace ossrt {

struct SessionOptions {
  // Maximum tokens the session may hold; 0 = the model's maximum
  // (initial_context_length x rope_scaling_factor). KV memory of the dense
  // layers grows with use up to this bound; the sliding-window layers keep a
  // fixed ring of sliding_window + max_batch_tokens - 1 positions.
  size_t context_length = 0;
  // Prompt tokens processed per forward chunk during prefill (>= 1).
  size_t max_batch_tokens = 128;
  // Called on the session's thread after each chunk of an append with
  // (tokens processed so far, tokens in the call); return false to cancel the
  // rest (after the final chunk there is nothing left to cancel).
  // Must not call back into the session.
  std::function<bool(size_t processed, size_t total)> prefill_progress;
};

class Session {
 public:
  // Failure: invalid_argument (context_length above the model maximum,
  // max_batch_tokens 0), out_of_memory.
  static Result<std::unique_ptr<Session>> create(std::shared_ptr<const Model> model,
                                                 const SessionOptions& options = {}) noexcept;
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Appends `tokens` and runs them through the model in chunks of
  // max_batch_tokens, leaving the logits of the last position in logits().
  // If `logits_all` is non-null it receives one row of vocab_size logits per
  // appended token, in order.
  // Failure: invalid_token (an id outside [0, vocab_size); nothing is
  // appended), context_overflow (the context would exceed context_length;
  // nothing is appended), cancelled (cancel() or the progress callback),
  // out_of_memory, internal. After a failure in the middle of a long append
  // the session holds the chunks that completed, and logits() is empty if any
  // did (append more to get logits again); `logits_all` then holds their rows.
  Status append(std::span<const TokenId> tokens, std::vector<float>* logits_all = nullptr) noexcept;

  // Logits (vocab_size values) predicting the token after the last appended
  // one; empty before the first append. Valid until the next non-const call.
  std::span<const float> logits() const noexcept;

  // Repeatedly draws a token from logits() with `sampler` (its random draw
  // keyed by the token's position in the session, its penalties by the
  // session's tokens), appends it and returns the drawn tokens. Stops after
  // max_tokens or after emitting any id in `stop_tokens` (which is included).
  // Failure: invalid_state (no logits yet), context_overflow, and append's;
  // the tokens generated before the failure stay appended to the session.
  Result<std::vector<TokenId>> generate(size_t max_tokens, const Sampler& sampler,
                                        std::span<const TokenId> stop_tokens = {}) noexcept;

  // generate() with arg-max sampling (lowest id on ties).
  // Failure: invalid_state (no logits yet), context_overflow, and append's;
  // the tokens generated before the failure stay appended to the session.
  Result<std::vector<TokenId>> generate_greedy(size_t max_tokens, std::span<const TokenId> stop_tokens = {}) noexcept;

  // A new, independent session holding a copy of this one's tokens, logits
  // and KV cache (same options): continuing either gives the same results as
  // continuing this one. Costs a copy of the KV cache. Failure: out_of_memory.
  Result<std::unique_ptr<Session>> fork() const noexcept;

  // Asks the call in progress on this session (append, generate) to stop at
  // its next layer boundary; it returns cancelled and the session stays valid
  // at its last committed chunk or token. Callable from any thread at any
  // time; a call that starts afterwards is not affected.
  void cancel() noexcept;

  // Drops every token; the session is as newly created. Never fails.
  void reset() noexcept;

  // The tokens the session holds, in order; valid until the next non-const call.
  std::span<const TokenId> tokens() const noexcept;
  // The resolved context length (options.context_length, or the model maximum).
  size_t context_length() const noexcept;
  const Model& model() const noexcept;
  // Bytes currently allocated for the KV cache (grows with dense-layer use).
  size_t kv_cache_bytes() const noexcept;

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ossrt
