// Session's state, shared by the files that implement it.
#pragma once

#include <atomic>
#include <memory>
#include <span>
#include <vector>

#include "model/kv_cache.h"
#include "model/model_impl.h"
#include "model/transformer.h"
#include "ossrt/session.hpp"

namespace ossrt {

// Session::create's checks and defaults (context 0 = the model's maximum;
// chunk and rewind room capped at the context). Failure: invalid_argument.
Result<SessionOptions> resolve_session_options(size_t max_context_length, const SessionOptions& options);
// The KV cache layout of a session with resolved options.
KvLayout kv_layout(const ModelConfig& config, const SessionOptions& resolved);

// Index of the first NaN or infinity in logits, or values.size().
size_t first_non_finite(std::span<const float> values);

struct Session::Impl {
  std::shared_ptr<const Model> model;
  SessionOptions options;
  KvCache cache;
  Workspace workspace;
  std::vector<TokenId> tokens;
  std::vector<float> logits;          // [V] after the last append, else empty
  std::vector<float> pending_logits;  // [V] staging: swapped into logits when an append succeeds
  std::atomic<bool> cancel_requested{false};

  const Model::Impl& m() const { return model->impl(); }
  Status append(std::span<const TokenId> tokens, std::vector<float>* logits_all);
  Status truncate(size_t n);
  Result<size_t> sync_prefix(std::span<const TokenId> target);
  // How many leading tokens of `target` sync_prefix keeps: the common prefix,
  // less the last token (run again for logits()) unless all of `target` is
  // held with its logits; 0 when dropping the rest exceeds the rewind room.
  size_t reusable_prefix(std::span<const TokenId> target) const;
  size_t state_size() const;
  std::vector<uint8_t> save() const;
  Status restore(std::span<const uint8_t> blob);
};

// The Impl behind a Session, for library code that runs one call made of
// several steps (chat_turn's token-by-token appends): Impl's functions leave
// the cancel flag alone, where the public ones clear it on entry.
struct SessionAccess {
  static Session::Impl& impl(Session& session) noexcept { return *session.impl_; }
};

}  // namespace ossrt
