// Scheduler: generations of several sessions of one model, advanced together.
// Sessions join with a prompt still to prefill and leave between steps; each
// step() is ONE forward pass (BatchDecoder's mixed step) in which every
// generating session appends its sampled token and joining sessions append
// a chunk of their prompt, so a long prompt is prefilled over several steps
// while the others keep decoding. Each session ends as Session::generate
// would leave it: the same sampled tokens (greedy ones identical, logits
// within 1e-5 in exact numerics), every sampled token appended.
//
// Thread rules: step() runs on one thread at a time (a second concurrent
// step() fails with invalid_state). join, leave, cancel, progress and
// active_sessions may be called from any thread, also while a step runs;
// they take effect between steps (leave waits for a running step that holds
// the session). A joined session belongs to the scheduler until it leaves:
// nothing else may use it meanwhile, and it must outlive its membership.
// The scheduler must not be destroyed while a call on it runs.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "ossrt/model.hpp"
#include "ossrt/sampler.hpp"
#include "ossrt/session.hpp"
#include "ossrt/status.hpp"
#include "ossrt/tokenizer.hpp"

namespace ossrt {

struct SchedulerOptions {
  // Sessions joined at once (finished ones count until they leave); 1 to 4096.
  size_t max_sessions = 8;
  // Tokens one step runs at most: one per generating session first, then
  // prompt chunks of joining sessions (in join order, each at most the
  // session's max_batch_tokens) in what is left. At least max_sessions (so
  // every session can always decode), at most 65536. Larger steps prefill
  // faster but make the decoding sessions wait longer for their next token.
  size_t max_step_tokens = 64;
};

// Why a generation ended.
enum class GenerationEnd : uint8_t {
  running,       // not ended yet (prefilling or generating)
  stop_token,    // sampled one of its stop tokens (included and appended)
  max_tokens,    // sampled max_tokens tokens
  context_full,  // the session holds its whole context
  cancelled,     // cancel(), or its on_token callback returned false
  failed,        // a sampler, logits_processor or forward-pass failure: GenerationProgress::status says which
};

// What a session generates once joined.
struct GenerationRequest {
  // Appended (over one or more steps) before the first token is sampled;
  // empty: the session's logits() already predict the first token.
  std::vector<TokenId> prompt;
  // false: `prompt` follows what the session holds. true: `prompt` is all
  // the session should hold (a conversation's full prompt, for a pool of
  // sessions): join keeps the longest prefix the session shares with it that
  // Session::sync_prefix would keep (held tokens dropped without recomputing
  // anything) and only the rest is prefilled, in steps.
  // GenerationProgress::reused_tokens says how many were kept.
  bool reuse_prefix = false;
  // Sampled tokens at most (the stop token included); at least 1.
  size_t max_tokens = 256;
  std::vector<TokenId> stop_tokens;
  // Called on step()'s thread with each sampled token (before it is appended
  // in the next step); return false to end the generation (cancelled; the
  // token is reported but not appended). May call join, cancel, progress
  // and leave (also of its own session); must not call step().
  std::function<bool(TokenId token)> on_token;
  // Called on step()'s thread before each token is sampled, with a copy of
  // the session's logits() (vocab_size values) that it may change in place:
  // the token is sampled from what it leaves (e.g. -inf for ids a grammar
  // refuses). A failing status ends the generation as failed with that
  // status; nothing is sampled. Runs outside the scheduler's lock: may call
  // join, cancel and progress; must not call step() or leave().
  std::function<Status(std::span<float> logits)> logits_processor;
};

// A joined session's generation so far.
struct GenerationProgress {
  GenerationEnd end = GenerationEnd::running;
  Status status;                // failed: why
  size_t prompt_left = 0;       // prompt tokens not yet appended
  size_t reused_tokens = 0;     // held tokens kept by GenerationRequest::reuse_prefix
  std::vector<TokenId> tokens;  // sampled so far, in order
};

// What one step ran.
struct StepReport {
  size_t decode_tokens = 0;   // sessions that appended their sampled token
  size_t prompt_tokens = 0;   // prompt tokens appended (chunks of joining sessions)
  size_t sessions_ended = 0;  // generations that ended in this step
};

class Scheduler {
 public:
  // A scheduler over `model`. Failure: invalid_argument (null model,
  // max_sessions or max_step_tokens out of range), out_of_memory.
  static Result<std::unique_ptr<Scheduler>> create(std::shared_ptr<const Model> model,
                                                   const SchedulerOptions& options = {}) noexcept;
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Adds `session` with its request; it takes part from the next step
  // (which samples its first token if the prompt is empty). Tokens are drawn
  // with a copy of `sampler`, keyed by position as Session::generate does.
  // With request.reuse_prefix the session is truncated to the kept prefix
  // here (never recomputing anything). Failure (nothing joined, the session
  // untouched): invalid_argument (a session of another model, another
  // numerics mode than the sessions joined, max_tokens 0, an empty prompt
  // with no logits to sample from), invalid_state (the session is already
  // joined; max_sessions sessions are joined), invalid_token (a prompt id
  // outside the vocabulary), context_overflow (the prompt does not fit the
  // session's context), out_of_memory.
  Status join(Session& session, const Sampler& sampler, GenerationRequest request) noexcept;

  // Removes `session`; afterwards the scheduler never touches it (a step
  // that holds it is awaited, unless called from that step's on_token).
  // Its generation ends as cancelled if it was running; the session keeps
  // what was appended. Failure: invalid_argument (not joined).
  Status leave(Session& session) noexcept;

  // Ends `session`'s generation as cancelled before the next step (a step
  // running now still appends its rows); the others run on. The session stays
  // joined (its progress readable) until leave. Failure: invalid_argument
  // (not joined). Ending one already ended changes nothing.
  Status cancel(Session& session) noexcept;

  // The session's generation so far. Failure: invalid_argument (not joined).
  Result<GenerationProgress> progress(const Session& session) const noexcept;

  // Runs one forward pass over every running session: each generating one
  // appends its sampled token, joining ones a prompt chunk (the token budget
  // permitting), then each samples its next token from its new logits()
  // (through its request's logits_processor, if any) and
  // ends on a stop token, max_tokens, a full context or a cancel. A row's
  // failure ends the sessions it concerns with status failed (a forward pass
  // failing as a whole, e.g. device_error or out_of_memory, ends every session
  // in it); the others continue. A step with no running session does nothing.
  // The pass runs on the threads of its first session (SessionOptions::threads).
  // Failure: invalid_state (another step() is running), out_of_memory.
  Result<StepReport> step() noexcept;

  // Sessions still generating (joined, not ended).
  size_t active_sessions() const noexcept;
  const SchedulerOptions& options() const noexcept;

 private:
  struct Impl;
  explicit Scheduler(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ossrt
