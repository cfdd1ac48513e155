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
}  // namespace

struct BatchDecoder::Impl {
  std::shared_ptr<const Model> model;
  Workspace workspace;
  std::atomic<bool> cancel_requested{false};
  std::vector<KvCache*> caches;
  std::vector<size_t> positions;
  std::vector<float> logits;  // [n, V]

  Status check(std::span<Session* const> sessions, std::span<const TokenId> tokens) const;
  Status step(std::span<Session* const> sessions, std::span<const TokenId> tokens);
};

BatchDecoder::BatchDecoder(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
BatchDecoder::~BatchDecoder() = default;

Result<std::unique_ptr<BatchDecoder>> BatchDecoder::create(std::shared_ptr<const Model> model,
                                                           size_t max_sessions) noexcept {
  return guard("BatchDecoder::create", [&]() -> Result<std::unique_ptr<BatchDecoder>> {
    if (model == nullptr) return error(StatusCode::invalid_argument, "BatchDecoder::create: model is null");
    if (max_sessions == 0 || max_sessions > kMaxSessions) {
      return error(StatusCode::invalid_argument, "BatchDecoder::create: max_sessions %zu is outside [1, %zu]",
                   max_sessions, kMaxSessions);
    }
    auto impl = std::make_unique<Impl>();
    Result<Workspace> workspace = Workspace::create(model->impl(), max_sessions);
    if (!workspace.ok()) return workspace.status();
    impl->workspace = std::move(workspace.value());
    if (Status s = impl->workspace.reserve_rows(model->impl(), max_sessions); !s.ok()) return s;
    if (Status s = impl->workspace.reserve_logits(model->impl(), max_sessions); !s.ok()) return s;
    impl->model = std::move(model);
    return std::unique_ptr<BatchDecoder>(new BatchDecoder(std::move(impl)));
  });
}

size_t BatchDecoder::max_sessions() const noexcept {
  return impl_->workspace.max_tokens;
}

void BatchDecoder::cancel() noexcept {
  impl_->cancel_requested.store(true);
}

Status BatchDecoder::step(std::span<Session* const> sessions, std::span<const TokenId> tokens) noexcept {
  Status status = guard("BatchDecoder::step", [&] { return impl_->step(sessions, tokens); });
  impl_->cancel_requested.store(false);
  return status;
}

Status BatchDecoder::Impl::check(std::span<Session* const> sessions, std::span<const TokenId> tokens) const {
  if (sessions.size() != tokens.size() || sessions.empty() || sessions.size() > workspace.max_tokens) {
    return error(StatusCode::invalid_argument,
                 "BatchDecoder::step: %zu sessions and %zu tokens (1 to %zu of each, as many tokens as sessions)",
                 sessions.size(), tokens.size(), workspace.max_tokens);
  }
  const size_t vocab = static_cast<size_t>(model->info().config.vocab_size);
  for (size_t i = 0; i < sessions.size(); ++i) {
    if (sessions[i] == nullptr)
      return error(StatusCode::invalid_argument, "BatchDecoder::step: session %zu is null", i);
    const auto& s = SessionAccess::impl(*sessions[i]);
    if (s.model.get() != model.get()) {
      return error(StatusCode::invalid_argument, "BatchDecoder::step: session %zu belongs to another model", i);
    }
    if (std::find(sessions.begin(), sessions.begin() + static_cast<std::ptrdiff_t>(i), sessions[i]) !=
        sessions.begin() + static_cast<std::ptrdiff_t>(i)) {
      return error(StatusCode::invalid_argument, "BatchDecoder::step: session %zu appears twice", i);
    }
    if (s.options.numerics != SessionAccess::impl(*sessions[0]).options.numerics) {
      return error(StatusCode::invalid_argument,
                   "BatchDecoder::step: session %zu has other numerics than session 0 (a step computes one mode)", i);
    }
    if (tokens[i] < 0 || static_cast<size_t>(tokens[i]) >= vocab) {
      return error(StatusCode::invalid_token, "BatchDecoder::step: token %d for session %zu is outside [0, %zu)",
                   tokens[i], i, vocab);
    }
    if (s.tokens.size() >= s.options.context_length) {
      return error(StatusCode::context_overflow, "BatchDecoder::step: session %zu holds its whole %zu-token context", i,
                   s.options.context_length);
    }
  }
  return Status::success();
}

Status BatchDecoder::Impl::step(std::span<Session* const> sessions, std::span<const TokenId> tokens) {
  if (Status s = check(sessions, tokens); !s.ok()) return s;
  const Model::Impl& m = model->impl();
  if (Status s = m.check_files_unchanged(); !s.ok()) return s;
  const size_t n = sessions.size(), vocab = static_cast<size_t>(m.config().vocab_size);
  caches.clear();
  positions.clear();
  for (Session* session : sessions) {
    auto& s = SessionAccess::impl(*session);
    if (Status st = s.cache.reserve(s.tokens.size() + 1); !st.ok()) return st;
    caches.push_back(&s.cache);
    positions.push_back(s.tokens.size());
  }
  const auto& first = SessionAccess::impl(*sessions[0]);
  const ThreadCountScope threads(first.options.threads);
  logits.resize(n * vocab);
  const Status pass = forward_rows(m, caches, positions, workspace, tokens.data(), first.options.numerics,
                                   logits.data(), cancel_requested);
  if (!pass.ok()) {
    return pass.code() == StatusCode::cancelled ? error(StatusCode::cancelled, "BatchDecoder::step: cancelled") : pass;
  }
  if (Status s = m.check_files_unchanged(); !s.ok()) return s;
  Status result;
  for (size_t i = 0; i < n; ++i) {
    auto& s = SessionAccess::impl(*sessions[i]);
    s.tokens.push_back(tokens[i]);
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
