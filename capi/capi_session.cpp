// ossrt_session_*: translation to ossrt::Session.
#include <algorithm>
#include <chrono>

#include "capi_common.h"

using namespace ossrt;

namespace ossrt::capi {

SessionClaim::SessionClaim(const ossrt_session* session, const char* where) noexcept {
  // Claimed under the registry's lock: once destroy has unregistered the
  // handle no call can claim it, and a claim made before is seen by destroy.
  bool claimed = false;
  const bool is_live = with_live(session, [&](const ossrt_session* s) {
    claimed = !s->busy.exchange(true);
    if (claimed) s->owner.store(std::this_thread::get_id());
  });
  if (!is_live) {
    status_ = report(Status(StatusCode::invalid_argument, std::string(where) + ": session is NULL or released"));
    return;
  }
  if (!claimed) {
    status_ = report(Status(StatusCode::invalid_state,
                            std::string(where) + ": the session is in use by another call (another thread, or a "
                                                 "callback re-entering it); a session serves one call at a time"));
    return;
  }
  session_ = session;
}

SessionClaim::~SessionClaim() {
  if (session_ == nullptr) return;
  if (session_->destroy_pending) {  // destroyed from a callback of this call
    delete session_;
    return;
  }
  session_->owner.store(std::thread::id());
  session_->busy.store(false);
  // seq_cst store then load, against destroy's increment then check: one of
  // the two sees the other, so a waiting destroy is always woken.
  if (session_->waiters.load() > 0) {
    std::lock_guard lock(session_->mutex);
    session_->idle.notify_all();
  }
}

}  // namespace ossrt::capi

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

ossrt_session* wrap(std::unique_ptr<Session> session) {
  auto* handle = new ossrt_session;
  handle->session = std::move(session);
  return capi::adopt(handle);
}

}  // namespace

namespace ossrt::capi {

ossrt_status session_options_from(const ossrt_session_options* options, const char* where, SessionOptions& cpp) {
  ossrt_session_options defaults;
  ossrt_session_options_init(&defaults);
  const ossrt_session_options o = read_versioned(options, defaults);
  cpp.context_length = static_cast<size_t>(o.context_length);
  cpp.max_batch_tokens = static_cast<size_t>(o.max_batch_tokens);
  cpp.rewind_tokens = static_cast<size_t>(o.rewind_tokens);
  cpp.threads = o.threads;
  if (o.numerics != OSSRT_NUMERICS_EXACT && o.numerics != OSSRT_NUMERICS_FAST)
    return invalid_argument((std::string(where) + ": options->numerics is not an ossrt_numerics value").c_str());
  cpp.numerics = o.numerics == OSSRT_NUMERICS_FAST ? Numerics::fast : Numerics::exact;
  if (o.prefill_progress != nullptr) {
    cpp.prefill_progress = [callback = o.prefill_progress, user_data = o.prefill_progress_user_data](
                               size_t processed, size_t total) { return callback(processed, total, user_data) == 0; };
  }
  return OSSRT_STATUS_OK;
}

}  // namespace ossrt::capi

extern "C" {

void ossrt_session_options_init(ossrt_session_options* options) {
  if (options == nullptr) return;
  const SessionOptions defaults;
  *options = ossrt_session_options{};
  options->struct_size = sizeof(ossrt_session_options);
  options->context_length = defaults.context_length;
  options->max_batch_tokens = defaults.max_batch_tokens;
  options->rewind_tokens = defaults.rewind_tokens;
}

ossrt_status ossrt_session_create(const ossrt_model* model, const ossrt_session_options* options,
                                  ossrt_session** session_out) {
  if (session_out == nullptr) return capi::invalid_argument("ossrt_session_create: session_out is NULL");
  *session_out = nullptr;
  if (!capi::live(model)) return capi::invalid_argument("ossrt_session_create: model is NULL or released");
  if (ossrt_status st = capi::check_options(options, "ossrt_session_create"); st != OSSRT_STATUS_OK) return st;
  return capi::barrier("ossrt_session_create", [&] {
    SessionOptions cpp;
    if (ossrt_status st = capi::session_options_from(options, "ossrt_session_create", cpp); st != OSSRT_STATUS_OK)
      return st;
    auto session = Session::create(model->model, cpp);
    if (!session.ok()) return capi::report(session.status());
    *session_out = wrap(std::move(session.value()));
    return capi::report(Status::success());
  });
}

void ossrt_session_destroy(ossrt_session* session) {
  if (session == nullptr || !capi::unregister_handle(session, capi::handle_kind<ossrt_session>())) return;
  // No new call can claim it now; one already running is cancelled and awaited.
  if (session->busy.load() && session->owner.load() == std::this_thread::get_id()) {
    session->session->cancel();
    session->destroy_pending = true;  // re-entered from a callback: the call deletes it on return
    return;
  }
  session->waiters.fetch_add(1);
  {
    std::unique_lock lock(session->mutex);
    // The cancel is repeated: a call that had claimed the session but not yet
    // started its work clears the flag on entry.
    while (session->busy.load()) {
      session->session->cancel();
      session->idle.wait_for(lock, std::chrono::milliseconds(1), [&] { return !session->busy.load(); });
    }
  }
  session->waiters.fetch_sub(1);
  delete session;
}

ossrt_status ossrt_session_append_tokens(ossrt_session* session, const int32_t* tokens, size_t n) {
  capi::SessionClaim claim(session, "ossrt_session_append_tokens");
  if (!claim.ok()) return claim.status();
  if (tokens == nullptr && n > 0) return capi::invalid_argument("ossrt_session_append_tokens: tokens is NULL");
  return capi::report(session->session->append(std::span<const TokenId>(tokens, n)));
}

ossrt_status ossrt_session_get_logits(const ossrt_session* session, const float** logits, size_t* vocab_size) {
  capi::SessionClaim claim(session, "ossrt_session_get_logits");
  if (!claim.ok()) return claim.status();
  if (logits == nullptr || vocab_size == nullptr) return capi::invalid_argument("ossrt_session_get_logits: NULL out");
  const std::span<const float> view = session->session->logits();
  if (view.empty()) {
    return capi::report(Status(StatusCode::invalid_state, "ossrt_session_get_logits: append tokens first"));
  }
  *logits = view.data();
  *vocab_size = view.size();
  return capi::report(Status::success());
}

ossrt_status ossrt_session_get_num_tokens(const ossrt_session* session, size_t* n_tokens) {
  capi::SessionClaim claim(session, "ossrt_session_get_num_tokens");
  if (!claim.ok()) return claim.status();
  if (n_tokens == nullptr) return capi::invalid_argument("ossrt_session_get_num_tokens: n_tokens is NULL");
  *n_tokens = session->session->tokens().size();
  return capi::report(Status::success());
}

ossrt_status ossrt_session_get_tokens(const ossrt_session* session, int32_t* out, size_t cap, size_t* n_out) {
  capi::SessionClaim claim(session, "ossrt_session_get_tokens");
  if (!claim.ok()) return claim.status();
  if (n_out == nullptr || (out == nullptr && cap > 0))
    return capi::invalid_argument("ossrt_session_get_tokens: NULL out");
  const std::span<const TokenId> tokens = session->session->tokens();
  return capi::fill_buffer(tokens.data(), tokens.size(), out, cap, n_out);
}

ossrt_status ossrt_session_generate_greedy(ossrt_session* session, size_t max_tokens, const int32_t* stop,
                                           size_t n_stop, int32_t* out, size_t cap, size_t* n_out) {
  capi::SessionClaim claim(session, "ossrt_session_generate_greedy");
  if (!claim.ok()) return claim.status();
  if (n_out == nullptr || (out == nullptr && max_tokens > 0) || (stop == nullptr && n_stop > 0)) {
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
  capi::SessionClaim claim(session, "ossrt_session_generate");
  if (!claim.ok()) return claim.status();
  if (!capi::live(sampler) || n_out == nullptr || (out == nullptr && max_tokens > 0) ||
      (stop == nullptr && n_stop > 0)) {
    return capi::invalid_argument("ossrt_session_generate: NULL argument or released handle");
  }
  return capi::barrier("ossrt_session_generate", [&] {
    return generate_into(session, max_tokens, out, cap, n_out, [&](Session& s) {
      return s.generate(max_tokens, sampler->sampler, std::span<const TokenId>(stop, n_stop));
    });
  });
}

ossrt_status ossrt_session_sample(const ossrt_session* session, const ossrt_sampler* sampler, int32_t* token) {
  capi::SessionClaim claim(session, "ossrt_session_sample");
  if (!claim.ok()) return claim.status();
  if (!capi::live(sampler) || token == nullptr) {
    return capi::invalid_argument("ossrt_session_sample: NULL argument or released handle");
  }
  return capi::barrier("ossrt_session_sample", [&] {
    const Session& s = *session->session;
    if (s.logits().empty()) {
      return capi::report(Status(StatusCode::invalid_state, "ossrt_session_sample: append tokens first"));
    }
    auto drawn = sampler->sampler.sample(s.logits(), s.tokens(), s.tokens().size());
    if (!drawn.ok()) return capi::report(drawn.status());
    *token = drawn.value();
    return capi::report(Status::success());
  });
}

ossrt_status ossrt_session_fork(const ossrt_session* session, ossrt_session** session_out) {
  if (session_out == nullptr) return capi::invalid_argument("ossrt_session_fork: session_out is NULL");
  *session_out = nullptr;
  capi::SessionClaim claim(session, "ossrt_session_fork");
  if (!claim.ok()) return claim.status();
  return capi::barrier("ossrt_session_fork", [&] {
    auto copy = session->session->fork();
    if (!copy.ok()) return capi::report(copy.status());
    *session_out = wrap(std::move(copy.value()));
    return capi::report(Status::success());
  });
}

void ossrt_session_cancel(ossrt_session* session) {
  // Under the registry's lock: a destroy racing with this cancel waits for it.
  capi::with_live(session, [](const ossrt_session* s) { s->session->cancel(); });
}

ossrt_status ossrt_session_reset(ossrt_session* session) {
  capi::SessionClaim claim(session, "ossrt_session_reset");
  if (!claim.ok()) return claim.status();
  session->session->reset();
  return capi::report(Status::success());
}

ossrt_status ossrt_session_sync_prefix(ossrt_session* session, const int32_t* tokens, size_t n, size_t* n_reused) {
  capi::SessionClaim claim(session, "ossrt_session_sync_prefix");
  if (!claim.ok()) return claim.status();
  if ((tokens == nullptr && n > 0) || n_reused == nullptr) {
    return capi::invalid_argument("ossrt_session_sync_prefix: NULL tokens or n_reused");
  }
  return capi::barrier("ossrt_session_sync_prefix", [&] {
    auto reused = session->session->sync_prefix(std::span<const TokenId>(tokens, n));
    if (!reused.ok()) return capi::report(reused.status());
    *n_reused = reused.value();
    return capi::report(Status::success());
  });
}

ossrt_status ossrt_session_truncate(ossrt_session* session, size_t n_keep) {
  capi::SessionClaim claim(session, "ossrt_session_truncate");
  if (!claim.ok()) return claim.status();
  return capi::barrier("ossrt_session_truncate", [&] { return capi::report(session->session->truncate(n_keep)); });
}

ossrt_status ossrt_session_state_size(const ossrt_session* session, size_t* size) {
  capi::SessionClaim claim(session, "ossrt_session_state_size");
  if (!claim.ok()) return claim.status();
  if (size == nullptr) return capi::invalid_argument("ossrt_session_state_size: size is NULL");
  *size = session->session->state_size();
  return capi::report(Status::success());
}

ossrt_status ossrt_session_save_state(const ossrt_session* session, uint8_t* out, size_t cap, size_t* n_out) {
  capi::SessionClaim claim(session, "ossrt_session_save_state");
  if (!claim.ok()) return claim.status();
  if (n_out == nullptr || (out == nullptr && cap > 0))
    return capi::invalid_argument("ossrt_session_save_state: NULL out");
  return capi::barrier("ossrt_session_save_state", [&] {
    const size_t needed = session->session->state_size();
    if (needed > cap) return capi::fill_buffer<uint8_t>(nullptr, needed, out, cap, n_out);
    auto blob = session->session->save_state();
    if (!blob.ok()) return capi::report(blob.status());
    return capi::fill_buffer(blob.value().data(), blob.value().size(), out, cap, n_out);
  });
}

ossrt_status ossrt_session_restore_state(ossrt_session* session, const uint8_t* state, size_t len) {
  capi::SessionClaim claim(session, "ossrt_session_restore_state");
  if (!claim.ok()) return claim.status();
  if (state == nullptr && len > 0) return capi::invalid_argument("ossrt_session_restore_state: state is NULL");
  return capi::barrier("ossrt_session_restore_state", [&] {
    return capi::report(session->session->restore_state(std::span<const uint8_t>(state, len)));
  });
}

ossrt_status ossrt_session_save_state_file(const ossrt_session* session, const char* path) {
  capi::SessionClaim claim(session, "ossrt_session_save_state_file");
  if (!claim.ok()) return claim.status();
  if (path == nullptr) return capi::invalid_argument("ossrt_session_save_state_file: path is NULL");
  return capi::barrier("ossrt_session_save_state_file",
                       [&] { return capi::report(session->session->save_state_file(path)); });
}

ossrt_status ossrt_session_restore_state_file(ossrt_session* session, const char* path) {
  capi::SessionClaim claim(session, "ossrt_session_restore_state_file");
  if (!claim.ok()) return claim.status();
  if (path == nullptr) return capi::invalid_argument("ossrt_session_restore_state_file: path is NULL");
  return capi::barrier("ossrt_session_restore_state_file",
                       [&] { return capi::report(session->session->restore_state_file(path)); });
}

void ossrt_session_memory_init(ossrt_session_memory* memory) {
  capi::init_output(memory);
}

ossrt_status ossrt_session_get_memory(const ossrt_session* session, ossrt_session_memory* memory) {
  capi::SessionClaim claim(session, "ossrt_session_get_memory");
  if (!claim.ok()) return claim.status();
  // Every caller reads kv_cache_bytes at least.
  if (ossrt_status st = capi::check_output(memory, "ossrt_session_get_memory", "memory", 2); st != OSSRT_STATUS_OK)
    return st;
  const Session::Memory m = session->session->memory();
  ossrt_session_memory out{};
  out.kv_cache_bytes = m.kv_cache_bytes;
  out.scratch_bytes = m.scratch_bytes;
  out.logits_bytes = m.logits_bytes;
  out.context_length = session->session->context_length();
  capi::copy_versioned(out, memory);
  return capi::report(Status::success());
}

}  // extern "C"
