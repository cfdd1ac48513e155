#include "ossrt/batch_decoder.hpp"

#include <algorithm>
#include <atomic>
#include <vector>

#include "model/session_impl.h"
#include "model/transformer.h"
#include "util/errors.h"
#include "util/thread_scope.h"

namespace ossrt {

namespace {
constexpr size_t kMaxSessions = 4096;
constexpr size_t kMaxStepTokens = 65536;
}  // namespace

struct BatchDecoder::Impl {
  std::shared_ptr<const Model> model;
  size_t max_sessions = 0;
  Workspace workspace;
  std::atomic<bool> cancel_requested{false};
  // Per-step staging, kept for its capacity: a decode step does not allocate.
  std::vector<KvCache*> caches;
  std::vector<size_t> positions, logits_rows;
  std::vector<TokenId> tokens;
  std::vector<float> logits;  // [chunks, V]
  std::vector<SessionChunk> one_token_chunks;

  Status check(std::span<const SessionChunk> chunks) const;
  Status step(std::span<const SessionChunk> chunks);
};

BatchDecoder::BatchDecoder(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
BatchDecoder::~BatchDecoder() = default;

Result<std::unique_ptr<BatchDecoder>> BatchDecoder::create(std::shared_ptr<const Model> model, size_t max_sessions,
                                                           size_t max_step_tokens) noexcept {
  return guard("BatchDecoder::create", [&]() -> Result<std::unique_ptr<BatchDecoder>> {
    if (model == nullptr) return error(StatusCode::invalid_argument, "BatchDecoder::create: model is null");
    if (max_sessions == 0 || max_sessions > kMaxSessions) {
      return error(StatusCode::invalid_argument, "BatchDecoder::create: max_sessions %zu is outside [1, %zu]",
                   max_sessions, kMaxSessions);
    }
    if (max_step_tokens == 0) max_step_tokens = max_sessions;
    if (max_step_tokens < max_sessions || max_step_tokens > kMaxStepTokens) {
      return error(StatusCode::invalid_argument,
                   "BatchDecoder::create: max_step_tokens %zu is outside [max_sessions %zu, %zu]", max_step_tokens,
                   max_sessions, kMaxStepTokens);
    }
    auto impl = std::make_unique<Impl>();
    impl->max_sessions = max_sessions;
    Result<Workspace> workspace = Workspace::create(model->impl(), max_step_tokens);
    if (!workspace.ok()) return workspace.status();
    impl->workspace = std::move(workspace.value());
    if (Status s = impl->workspace.reserve_rows(model->impl(), max_step_tokens); !s.ok()) return s;
    if (Status s = impl->workspace.reserve_logits(model->impl(), max_sessions); !s.ok()) return s;
    impl->model = std::move(model);
    return std::unique_ptr<BatchDecoder>(new BatchDecoder(std::move(impl)));
  });
}

size_t BatchDecoder::max_sessions() const noexcept {
  return impl_->max_sessions;
}

size_t BatchDecoder::max_step_tokens() const noexcept {
  return impl_->workspace.max_tokens;
}

void BatchDecoder::cancel() noexcept {
  impl_->cancel_requested.store(true);
}

Status BatchDecoder::step(std::span<const SessionChunk> chunks) noexcept {
  Status status = guard("BatchDecoder::step", [&] { return impl_->step(chunks); });
  impl_->cancel_requested.store(false);
  return status;
}

Status BatchDecoder::step(std::span<Session* const> sessions, std::span<const TokenId> tokens) noexcept {
  if (sessions.size() != tokens.size()) {
    impl_->cancel_requested.store(false);
    return error(StatusCode::invalid_argument,
                 "BatchDecoder::step: %zu sessions and %zu tokens (1 to %zu of each, as many tokens as sessions)",
                 sessions.size(), tokens.size(), impl_->max_sessions);
  }
  Status built = guard("BatchDecoder::step", [&] {
    impl_->one_token_chunks.clear();
    for (size_t i = 0; i < sessions.size(); ++i) impl_->one_token_chunks.push_back({sessions[i], tokens.subspan(i, 1)});
    return Status::success();
  });
  if (!built.ok()) return built;
  return step(impl_->one_token_chunks);
}

Status BatchDecoder::Impl::check(std::span<const SessionChunk> chunks) const {
  if (chunks.empty() || chunks.size() > max_sessions) {
    return error(StatusCode::invalid_argument, "BatchDecoder::step: %zu sessions (1 to %zu)", chunks.size(),
                 max_sessions);
  }
  const size_t vocab = static_cast<size_t>(model->info().config.vocab_size);
  size_t total = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    Session* session = chunks[i].session;
    if (session == nullptr) return error(StatusCode::invalid_argument, "BatchDecoder::step: session %zu is null", i);
    const auto& s = SessionAccess::impl(*session);
    if (s.model.get() != model.get()) {
      return error(StatusCode::invalid_argument, "BatchDecoder::step: session %zu belongs to another model", i);
    }
    for (size_t j = 0; j < i; ++j) {
      if (chunks[j].session == session)
        return error(StatusCode::invalid_argument, "BatchDecoder::step: session %zu appears twice", i);
    }
    if (s.options.numerics != SessionAccess::impl(*chunks[0].session).options.numerics) {
      return error(StatusCode::invalid_argument,
                   "BatchDecoder::step: session %zu has other numerics than session 0 (a step computes one mode)", i);
    }
    const std::span<const TokenId> chunk = chunks[i].tokens;
    if (chunk.empty() || chunk.size() > s.options.max_batch_tokens) {
      return error(StatusCode::invalid_argument,
                   "BatchDecoder::step: session %zu gets %zu tokens (1 to its max_batch_tokens %zu)", i, chunk.size(),
                   s.options.max_batch_tokens);
    }
    for (TokenId token : chunk) {
      if (token < 0 || static_cast<size_t>(token) >= vocab) {
        return error(StatusCode::invalid_token, "BatchDecoder::step: token %d for session %zu is outside [0, %zu)",
                     token, i, vocab);
      }
    }
    if (chunk.size() > s.options.context_length - s.tokens.size()) {
      return error(StatusCode::context_overflow,
                   "BatchDecoder::step: %zu tokens do not fit session %zu: it holds %zu of its %zu-token context",
                   chunk.size(), i, s.tokens.size(), s.options.context_length);
    }
    total += chunk.size();
  }
  if (total > workspace.max_tokens) {
    return error(StatusCode::invalid_argument, "BatchDecoder::step: %zu tokens in all (at most max_step_tokens %zu)",
                 total, workspace.max_tokens);
  }
  return Status::success();
}

Status BatchDecoder::Impl::step(std::span<const SessionChunk> chunks) {
  if (Status s = check(chunks); !s.ok()) return s;
  const Model::Impl& m = model->impl();
  if (Status s = m.check_files_unchanged(); !s.ok()) return s;
  const size_t vocab = static_cast<size_t>(m.config().vocab_size);
  caches.clear();
  positions.clear();
  logits_rows.clear();
  tokens.clear();
  for (const SessionChunk& chunk : chunks) {
    auto& s = SessionAccess::impl(*chunk.session);
    if (Status st = s.cache.reserve(s.tokens.size() + chunk.tokens.size()); !st.ok()) return st;
    for (size_t j = 0; j < chunk.tokens.size(); ++j) {
      caches.push_back(&s.cache);
      positions.push_back(s.tokens.size() + j);
    }
    tokens.insert(tokens.end(), chunk.tokens.begin(), chunk.tokens.end());
    logits_rows.push_back(tokens.size() - 1);  // a chunk's logits are its last token's
  }
  const auto& first = SessionAccess::impl(*chunks[0].session);
  const ThreadCountScope threads(first.options.threads);
  logits.resize(chunks.size() * vocab);
  const Status pass = forward_rows(m, caches, positions, logits_rows, workspace, tokens.data(), first.options.numerics,
                                   logits.data(), cancel_requested);
  if (!pass.ok()) {
    return pass.code() == StatusCode::cancelled ? error(StatusCode::cancelled, "BatchDecoder::step: cancelled") : pass;
  }
  if (Status s = m.check_files_unchanged(); !s.ok()) return s;
  Status result;
  for (size_t i = 0; i < chunks.size(); ++i) {
    auto& s = SessionAccess::impl(*chunks[i].session);
    s.tokens.insert(s.tokens.end(), chunks[i].tokens.begin(), chunks[i].tokens.end());
    const float* row = logits.data() + i * vocab;
    const size_t bad = first_non_finite(std::span<const float>(row, vocab));
    if (bad < vocab) {
      s.logits.clear();
      if (result.ok()) {
        result = error(StatusCode::invalid_checkpoint,
                       "BatchDecoder::step: logit %zu of session %zu is not finite: the weights are damaged", bad, i);
      }
      continue;
    }
    s.logits.assign(row, row + vocab);
  }
  return result;
}

}  // namespace ossrt
