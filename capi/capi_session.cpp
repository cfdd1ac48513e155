// ossrt_session_*: translation to ossrt::Session.
#include <algorithm>

#include "capi_common.h"

using namespace ossrt;

namespace {

// Shared by the greedy and sampled entry points: whatever was generated, even
// before a failure, is the session's new tail and is reported.
template <class Generate>
ossrt_status generate_into(ossrt_session* session, size_t max_tokens, int32_t* out, size_t cap, size_t* n_out,
                           Generate generate) {
  if (cap < max_tokens) return capi::invalid_argument("generate: cap is smaller than max_tokens");
  Session& s = *session->session;
  const size_t before = s.tokens().size();
  auto generated = generate(s);
  const std::span<const TokenId> tail = s.tokens().subspan(before);
  std::copy(tail.begin(), tail.end(), out);
  *n_out = tail.size();
  return capi::report(generated.ok() ? Status::success() : generated.status());
}

}  // namespace

extern "C" {

void ossrt_session_options_init(ossrt_session_options* options) {
  if (options == nullptr) return;
  const SessionOptions defaults;
  *options = ossrt_session_options{};
  options->struct_size = sizeof(ossrt_session_options);
  options->context_length = defaults.context_length;
  options->max_batch_tokens = defaults.max_batch_tokens;
}

ossrt_status ossrt_session_create(const ossrt_model* model, const ossrt_session_options* options,
                                  ossrt_session** session_out) {
  if (session_out == nullptr) return capi::invalid_argument("ossrt_session_create: session_out is NULL");
  *session_out = nullptr;
  if (model == nullptr) return capi::invalid_argument("ossrt_session_create: model is NULL");
  return capi::barrier("ossrt_session_create", [&] {
    ossrt_session_options defaults;
    ossrt_session_options_init(&defaults);
    const ossrt_session_options o = capi::read_versioned(options, defaults);
    SessionOptions cpp;
    cpp.context_length = static_cast<size_t>(o.context_length);
    cpp.max_batch_tokens = static_cast<size_t>(o.max_batch_tokens);
    if (o.prefill_progress != nullptr) {
      cpp.prefill_progress = [callback = o.prefill_progress, user_data = o.prefill_progress_user_data](
                                 size_t processed, size_t total) { return callback(processed, total, user_data) == 0; };
    }
    auto session = Session::create(model->model, cpp);
    if (!session.ok()) return capi::report(session.status());
    *session_out = new ossrt_session{std::move(session.value())};
    return capi::report(Status::success());
  });
}

void ossrt_session_destroy(ossrt_session* session) {
  delete session;
}

ossrt_status ossrt_session_append_tokens(ossrt_session* session, const int32_t* tokens, size_t n) {
  if (session == nullptr || (tokens == nullptr && n > 0)) {
    return capi::invalid_argument("ossrt_session_append_tokens: NULL session or tokens");
  }
  return capi::report(session->session->append(std::span<const TokenId>(tokens, n)));
}

ossrt_status ossrt_session_get_logits(const ossrt_session* session, const float** logits, size_t* vocab_size) {
  if (session == nullptr || logits == nullptr || vocab_size == nullptr) {
    return capi::invalid_argument("ossrt_session_get_logits: NULL argument");
  }
  const std::span<const float> view = session->session->logits();
  if (view.empty()) {
    return capi::report(Status(StatusCode::invalid_state, "ossrt_session_get_logits: append tokens first"));
  }
  *logits = view.data();
  *vocab_size = view.size();
  return capi::report(Status::success());
}

ossrt_status ossrt_session_get_num_tokens(const ossrt_session* session, size_t* n_tokens) {
  if (session == nullptr || n_tokens == nullptr) {
    return capi::invalid_argument("ossrt_session_get_num_tokens: NULL argument");
  }
  *n_tokens = session->session->tokens().size();
  return capi::report(Status::success());
}

ossrt_status ossrt_session_generate_greedy(ossrt_session* session, size_t max_tokens, const int32_t* stop,
                                           size_t n_stop, int32_t* out, size_t cap, size_t* n_out) {
  if (session == nullptr || n_out == nullptr || (out == nullptr && max_tokens > 0) || (stop == nullptr && n_stop > 0)) {
    return capi::invalid_argument("ossrt_session_generate_greedy: NULL argument");
  }
  return capi::barrier("ossrt_session_generate_greedy", [&] {
    return generate_into(session, max_tokens, out, cap, n_out, [&](Session& s) {
      return s.generate_greedy(max_tokens, std::span<const TokenId>(stop, n_stop));
    });
  });
}

ossrt_status ossrt_session_generate(ossrt_session* session, const ossrt_sampler* sampler, size_t max_tokens,
                                    const int32_t* stop, size_t n_stop, int32_t* out, size_t cap, size_t* n_out) {
  if (session == nullptr || sampler == nullptr || n_out == nullptr || (out == nullptr && max_tokens > 0) ||
      (stop == nullptr && n_stop > 0)) {
    return capi::invalid_argument("ossrt_session_generate: NULL argument");
  }
  return capi::barrier("ossrt_session_generate", [&] {
    return generate_into(session, max_tokens, out, cap, n_out, [&](Session& s) {
      return s.generate(max_tokens, sampler->sampler, std::span<const TokenId>(stop, n_stop));
    });
  });
}

ossrt_status ossrt_session_fork(const ossrt_session* session, ossrt_session** session_out) {
  if (session_out == nullptr) return capi::invalid_argument("ossrt_session_fork: session_out is NULL");
  *session_out = nullptr;
  if (session == nullptr) return capi::invalid_argument("ossrt_session_fork: session is NULL");
  return capi::barrier("ossrt_session_fork", [&] {
    auto copy = session->session->fork();
    if (!copy.ok()) return capi::report(copy.status());
    *session_out = new ossrt_session{std::move(copy.value())};
    return capi::report(Status::success());
  });
}

void ossrt_session_cancel(ossrt_session* session) {
  if (session != nullptr) session->session->cancel();
}

ossrt_status ossrt_session_reset(ossrt_session* session) {
  if (session == nullptr) return capi::invalid_argument("ossrt_session_reset: session is NULL");
  session->session->reset();
  return capi::report(Status::success());
}

}  // extern "C"
