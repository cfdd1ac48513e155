// Session: token history, KV cache and chunked prefill over a shared Model.
#include "ossrt/session.hpp"

#include <algorithm>
#include <atomic>
#include <vector>

#include "model/kv_cache.h"
#include "model/transformer.h"
#include "util/errors.h"

namespace ossrt {

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
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

Result<std::unique_ptr<Session>> Session::create(std::shared_ptr<const Model> model,
                                                 const SessionOptions& options) noexcept {
  return guard("Session::create", [&]() -> Result<std::unique_ptr<Session>> {
    if (!model) return Status(StatusCode::invalid_argument, "Session::create: model is null");
    const ModelInfo& info = model->info();
    SessionOptions resolved = options;
    if (resolved.context_length == 0) resolved.context_length = info.max_context_length;
    if (resolved.context_length > info.max_context_length) {
      return error(StatusCode::invalid_argument, "Session::create: context_length %zu exceeds the model's maximum %zu",
                   resolved.context_length, info.max_context_length);
    }
    if (resolved.max_batch_tokens == 0) {
      return Status(StatusCode::invalid_argument, "Session::create: max_batch_tokens must be at least 1");
    }
    resolved.max_batch_tokens = std::min(resolved.max_batch_tokens, resolved.context_length);
    auto impl = std::make_unique<Impl>();
    impl->model = std::move(model);
    impl->options = resolved;
    const ModelConfig& c = info.config;
    KvLayout layout{static_cast<size_t>(c.num_hidden_layers), static_cast<size_t>(c.num_key_value_heads * c.head_dim),
                    static_cast<size_t>(c.sliding_window), resolved.context_length, resolved.max_batch_tokens};
    Result<KvCache> cache = KvCache::create(impl->m().backend, layout);
    if (!cache.ok()) return cache.status();
    impl->cache = std::move(cache.value());
    Result<Workspace> workspace = Workspace::create(impl->m(), resolved.max_batch_tokens);
    if (!workspace.ok()) return workspace.status();
    impl->workspace = std::move(workspace.value());
    return std::unique_ptr<Session>(new Session(std::move(impl)));
  });
}

Status Session::Impl::append(std::span<const TokenId> input, std::vector<float>* logits_all) {
  Impl& s = *this;
  const size_t vocab = static_cast<size_t>(s.m().config().vocab_size);
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[i] < 0 || static_cast<size_t>(input[i]) >= vocab) {
      return error(StatusCode::invalid_token,
                   "Session::append: token %d at index %zu is outside the vocabulary [0, %zu)", input[i], i, vocab);
    }
  }
  if (input.size() > s.options.context_length - s.tokens.size()) {
    return error(StatusCode::context_overflow,
                 "Session::append: %zu tokens do not fit: the session holds %zu of its %zu-token context", input.size(),
                 s.tokens.size(), s.options.context_length);
  }
  if (input.empty()) return Status::success();
  if (Status st = s.cache.reserve(s.tokens.size() + input.size()); !st.ok()) return st;
  const size_t chunk = s.options.max_batch_tokens;
  if (logits_all != nullptr) {
    if (Status st = s.workspace.reserve_logits(s.m(), std::min(chunk, input.size())); !st.ok()) return st;
    logits_all->resize(input.size() * vocab);
  }
  // s.logits changes only when the whole call succeeds; the staging buffer
  // keeps its capacity, so decoding does not allocate per token.
  std::vector<float>& last = s.pending_logits;
  last.resize(vocab);
  for (size_t begin = 0; begin < input.size(); begin += chunk) {
    const size_t n = std::min(chunk, input.size() - begin);
    const bool last_chunk = begin + n == input.size();
    float* out = logits_all != nullptr ? logits_all->data() + begin * vocab : last.data();
    const size_t logits_from = logits_all != nullptr ? 0 : (last_chunk ? n - 1 : n);
    const bool completed = forward_chunk(s.m(), s.cache, s.workspace, input.data() + begin, n, s.tokens.size(),
                                         logits_from, out, s.cancel_requested);
    // The callback sees every completed chunk; asking to stop after the last one is moot.
    const bool keep_going =
        !completed || !s.options.prefill_progress || s.options.prefill_progress(begin + n, input.size());
    const bool go_on = completed && (keep_going || last_chunk);
    if (completed) {
      s.tokens.insert(s.tokens.end(), input.begin() + static_cast<std::ptrdiff_t>(begin),
                      input.begin() + static_cast<std::ptrdiff_t>(begin + n));
    }
    if (!go_on) {
      const size_t committed = completed ? begin + n : begin;
      if (committed > 0) s.logits.clear();  // the last committed position has no logits
      if (logits_all != nullptr) logits_all->resize(committed * vocab);
      return error(StatusCode::cancelled, "Session::append: cancelled after %zu of %zu tokens", committed,
                   input.size());
    }
  }
  if (logits_all != nullptr) {
    std::copy(logits_all->end() - static_cast<std::ptrdiff_t>(vocab), logits_all->end(), last.begin());
  }
  s.logits.swap(last);
  return Status::success();
}

Status Session::append(std::span<const TokenId> tokens, std::vector<float>* logits_all) noexcept {
  impl_->cancel_requested.store(false);
  return guard("Session::append", [&] { return impl_->append(tokens, logits_all); });
}

Result<std::unique_ptr<Session>> Session::fork() const noexcept {
  return guard("Session::fork", [&]() -> Result<std::unique_ptr<Session>> {
    auto created = Session::create(impl_->model, impl_->options);
    if (!created.ok()) return created.status();
    Impl& copy = *created.value()->impl_;
    Result<KvCache> cache = impl_->cache.copy(impl_->tokens.size());
    if (!cache.ok()) return cache.status();
    copy.cache = std::move(cache.value());
    copy.tokens = impl_->tokens;
    copy.logits = impl_->logits;
    return std::move(created.value());
  });
}

void Session::cancel() noexcept {
  impl_->cancel_requested.store(true);
}

std::span<const float> Session::logits() const noexcept {
  return impl_->logits;
}

Result<std::vector<TokenId>> Session::generate(size_t max_tokens, const Sampler& sampler,
                                               std::span<const TokenId> stop_tokens) noexcept {
  return guard("Session::generate", [&]() -> Result<std::vector<TokenId>> {
    if (impl_->logits.empty()) return Status(StatusCode::invalid_state, "Session::generate: append a prompt first");
    impl_->cancel_requested.store(false);
    std::vector<TokenId> generated;
    while (generated.size() < max_tokens) {
      if (impl_->cancel_requested.load()) {
        return error(StatusCode::cancelled, "Session::generate: cancelled after %zu tokens", generated.size());
      }
      auto next = sampler.sample(impl_->logits, impl_->tokens, impl_->tokens.size());
      if (!next.ok()) return next.status();
      const TokenId one[1] = {next.value()};
      if (Status st = impl_->append(one, nullptr); !st.ok()) return st;
      generated.push_back(one[0]);
      if (std::find(stop_tokens.begin(), stop_tokens.end(), one[0]) != stop_tokens.end()) break;
    }
    return generated;
  });
}

Result<std::vector<TokenId>> Session::generate_greedy(size_t max_tokens,
                                                      std::span<const TokenId> stop_tokens) noexcept {
  SamplerOptions greedy;
  greedy.temperature = 0.0f;
  auto sampler = Sampler::create(greedy);
  if (!sampler.ok()) return sampler.status();
  return generate(max_tokens, sampler.value(), stop_tokens);
}

void Session::reset() noexcept {
  impl_->tokens.clear();
  impl_->logits.clear();
}

std::span<const TokenId> Session::tokens() const noexcept {
  return impl_->tokens;
}
size_t Session::context_length() const noexcept {
  return impl_->options.context_length;
}
const Model& Session::model() const noexcept {
  return *impl_->model;
}
size_t Session::kv_cache_bytes() const noexcept {
  return impl_->cache.bytes();
}

}  // namespace ossrt
