// Session: one conversation's token history and KV cache over a shared Model.
//
// Thread rules: a Session is used by one thread at a time (no internal
// locking); different Sessions over the same Model may run concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "ossrt/model.hpp"
#include "ossrt/sampler.hpp"
#include "ossrt/status.hpp"

namespace ossrt {

// How a session trades accuracy for speed and memory.
enum class Numerics : uint8_t {
  // fp32 activations and KV cache: logits within 1e-3 of the official fp32
  // reference, greedy tokens identical.
  exact,
  // The KV cache is kept in bf16, halving its memory and the bytes attention
  // reads per token at long context; the experts' inputs are quantized to
  // 15-bit integers per 32 elements (one fp32 scale each) and multiplied as
  // integers, which makes the experts faster on CPUs (decode's and, where
  // no native bf16 product takes them, prefill's); and on CPUs that
  // multiply bf16 natively (AMX, AVX512-BF16, through oneDNN), prefill
  // chunks' qkv and attention-output projections and experts multiply
  // bf16-rounded inputs, sums kept in fp32 (router and logits stay exact).
  // Logits move by up to about 3e-2 on the tiny test model with the bf16
  // cache and the 15-bit inputs, 6e-2 with the bf16 products (the official
  // bf16 reference is 0.13 away); checked by `ossrt-conformance golden
  // --mode fast` (max abs 1.5x the golden's own bf16 run's distance, at
  // least 0.15; top-1 agreement 97%).
  fast,
};

// The largest SessionOptions::threads accepted: OpenMP runtimes fail to start
// (and libgomp then exits the process) well before thousands of threads.
inline constexpr size_t kMaxSessionThreads = 256;

struct SessionOptions {
  // Maximum tokens the session may hold; 0 = the model's maximum
  // (initial_context_length x rope_scaling_factor). KV memory of the dense
  // layers grows with use up to this bound; the sliding-window layers keep a
  // fixed ring of sliding_window + max_batch_tokens - 1 positions.
  size_t context_length = 0;
  // Prompt tokens processed per forward chunk during prefill (>= 1). Longer
  // chunks multiply each weight with more tokens: gpt-oss-20b on a 2-core
  // AVX2 VM prefills 18.0 tok/s in chunks of 128, 21.0 in 256 and 23.2 in
  // 512, for about 150 MB more scratch (activations and expert groups scale
  // with the chunk). The progress callback runs once per chunk; cancel()
  // stops within one layer of a chunk whatever its length.
  size_t max_batch_tokens = 512;
  // Extra positions the sliding-window layers keep (at most context_length
  // are used: a larger value counts as context_length) so that truncate() and
  // sync_prefix() can drop up to max_batch_tokens + rewind_tokens of the most
  // recent tokens without recomputing anything (a chat turn's reply whose
  // analysis harmony drops from the next prompt). Dropping more re-prefills
  // the kept tokens. Costs 2 x kv_heads x head_dim x 4 bytes per position
  // per sliding-window layer (4 KiB x 12 layers for gpt-oss-20b/120b; half
  // that with Numerics::fast).
  size_t rewind_tokens = 4096;
  // Called on the session's thread after each chunk of an append with
  // (tokens processed so far, tokens in the call); return false to cancel the
  // rest (after the final chunk there is nothing left to cancel).
  // Must not call back into the session.
  std::function<bool(size_t processed, size_t total)> prefill_progress;
  // Threads the forward pass uses; 0 = OpenMP's default (OMP_NUM_THREADS, else
  // one per core). Applies to this session's calls only. More threads than
  // cores oversubscribe and slow everything down. At most kMaxSessionThreads.
  size_t threads = 0;
  Numerics numerics = Numerics::exact;
};

class Session {
 public:
  // Failure: invalid_argument (context_length above the model maximum,
  // max_batch_tokens 0, threads above kMaxSessionThreads, numerics not a
  // Numerics value), out_of_memory. max_batch_tokens and rewind_tokens above
  // the context length count as the context length.
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
  // out_of_memory, internal, invalid_checkpoint (the logits came out NaN or
  // infinite: damaged weights; logits() is then empty), invalid_state (a
  // memory-mapped checkpoint file changed since load, see
  // ModelOptions::weights_in_memory). After a failure in the middle of a long append
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

  // Asks the call in progress on this session (append, generate, sync_prefix,
  // truncate, chat_turn) to stop at its next layer boundary; it returns
  // cancelled and the session stays valid at its last committed chunk or
  // token. Callable from any thread at any time; a call that starts
  // afterwards is not affected.
  void cancel() noexcept;

  // Drops every token; the session is as newly created. Never fails.
  void reset() noexcept;

  // Keeps the first n tokens and drops the rest; logits() is empty until the
  // next append (unless the kept tokens had to be prefilled again: dropping
  // more than max_batch_tokens + rewind_tokens re-runs them).
  // Failure: invalid_argument (n > tokens().size()); from a re-prefill,
  // cancelled / out_of_memory with the session holding what completed.
  Status truncate(size_t n) noexcept;

  // Makes the session hold exactly `tokens`, reusing the longest common prefix
  // with what it holds and prefilling only the rest (at least the last token,
  // so logits() predicts the token after `tokens`). Returns how many tokens
  // were reused. A multi-turn chat calls it with each turn's full prompt.
  // Failure: append's (invalid_token, context_overflow: nothing changes;
  // cancelled: the session holds the reused prefix plus completed chunks).
  Result<size_t> sync_prefix(std::span<const TokenId> tokens) noexcept;

  // The session's state (tokens, logits, KV cache) as a self-describing blob:
  // magic "OSSRTSES", format version, the model's fingerprint. Failure:
  // out_of_memory.
  Result<std::vector<uint8_t>> save_state() const noexcept;
  // Bytes save_state() would return now. Never fails.
  size_t state_size() const noexcept;
  // Replaces this session's state with a saved one. Failure: invalid_argument
  // (not a session blob, another format version, truncated or inconsistent
  // data; the message says which), invalid_state (saved from a different
  // model: fingerprints differ), context_overflow (more tokens than this
  // session's context_length). On failure the session is unchanged.
  Status restore_state(std::span<const uint8_t> blob) noexcept;
  // The same through a file. Failure: io_error (with the path) and the above.
  Status save_state_file(const std::filesystem::path& path) const noexcept;
  Status restore_state_file(const std::filesystem::path& path) noexcept;

  struct Memory {
    size_t kv_cache_bytes = 0;  // allocated for keys and values
    size_t scratch_bytes = 0;   // activations and staging for one chunk
    size_t logits_bytes = 0;    // the logits kept for logits()
  };
  Memory memory() const noexcept;

  // The tokens the session holds, in order; valid until the next non-const call.
  std::span<const TokenId> tokens() const noexcept;
  // The resolved context length (options.context_length, or the model maximum).
  size_t context_length() const noexcept;
  const Model& model() const noexcept;
  // Bytes currently allocated for the KV cache (grows with dense-layer use).
  size_t kv_cache_bytes() const noexcept;

 private:
  friend Status fill_synthetic_context(Session& session, size_t positions, uint64_t seed) noexcept;
  friend struct SessionAccess;  // lets chat_turn run one cancellable call of many appends
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ossrt
