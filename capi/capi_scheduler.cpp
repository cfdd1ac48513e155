// ossrt_scheduler_*: translation to ossrt::Scheduler.
#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "capi_common.h"

using namespace ossrt;

// The C++ scheduler and the claims on its sessions' handles: a joined
// session stays claimed until it leaves, so no other call (or destroy) can
// touch it while the scheduler may step it.
struct ossrt_scheduler {
  // Declared first, destroyed last: the scheduler is gone before its
  // sessions are released to their owners.
  mutable std::mutex mutex;  // guards claims
  std::map<const ossrt_session*, std::unique_ptr<capi::SessionClaim>> claims;
  std::unique_ptr<Scheduler> scheduler;

  // The joined session behind `session`, or null: a handle found here is
  // claimed, hence alive, whatever the registry says.
  Session* joined(const ossrt_session* session) const {
    std::lock_guard lock(mutex);
    return claims.count(session) > 0 ? session->session.get() : nullptr;
  }
};

namespace {

// The checks of every call about one joined session, then body(joined
// session), all behind the exception barrier.
template <class Body>
ossrt_status with_joined(const char* where, const ossrt_scheduler* scheduler, const ossrt_session* session,
                         Body&& body) {
  return capi::barrier(where, [&]() -> ossrt_status {
    if (!capi::live(scheduler)) {
      return capi::invalid_argument((std::string(where) + ": scheduler is NULL or released").c_str());
    }
    Session* joined = scheduler->joined(session);
    if (joined == nullptr) {
      return capi::invalid_argument((std::string(where) + ": the session has not joined this scheduler").c_str());
    }
    return body(*joined);
  });
}

// What a C logits processor returned, as the Status its generation fails with.
Status processor_status(ossrt_status code) {
  if (code == OSSRT_STATUS_OK) return Status::success();
  if (code < 0 || code > OSSRT_STATUS_DEVICE_ERROR) {
    return Status(StatusCode::internal, "logits_processor returned " + std::to_string(code) + ", not a status");
  }
  return Status(static_cast<StatusCode>(code), std::string("logits_processor returned ") + ossrt_status_string(code));
}

// The request as C++, copying what the caller's arrays hold.
ossrt_status request_from(const ossrt_generation_request* in, GenerationRequest& out, const Sampler*& sampler) {
  constexpr const char* where = "ossrt_scheduler_join";
  if (ossrt_status st = capi::check_options(in, where); st != OSSRT_STATUS_OK) return st;
  ossrt_generation_request defaults;
  ossrt_generation_request_init(&defaults);
  const ossrt_generation_request r = capi::read_versioned(in, defaults);
  if ((r.n_prompt > 0 && r.prompt == nullptr) || (r.n_stop_tokens > 0 && r.stop_tokens == nullptr)) {
    return capi::invalid_argument("ossrt_scheduler_join: prompt or stop_tokens is NULL with a count");
  }
  if (r.sampler != nullptr && !capi::live(r.sampler))
    return capi::invalid_argument("ossrt_scheduler_join: sampler is released");
  sampler = r.sampler != nullptr ? &r.sampler->sampler : nullptr;
  out.prompt.assign(r.prompt, r.prompt + r.n_prompt);
  out.max_tokens = static_cast<size_t>(r.max_tokens);
  out.stop_tokens.assign(r.stop_tokens, r.stop_tokens + r.n_stop_tokens);
  if (r.on_token != nullptr) {
    out.on_token = [callback = r.on_token, user_data = r.on_token_user_data](TokenId token) {
      return callback(token, user_data) == 0;
    };
  }
  if (r.logits_processor != nullptr) {
    out.logits_processor = [callback = r.logits_processor,
                            user_data = r.logits_processor_user_data](std::span<float> logits) {
      return processor_status(callback(logits.data(), logits.size(), user_data));
    };
  }
  out.reuse_prefix = r.reuse_prefix != 0;
  return OSSRT_STATUS_OK;
}

}  // namespace

extern "C" {

void ossrt_scheduler_options_init(ossrt_scheduler_options* options) {
  if (options == nullptr) return;
  const SchedulerOptions defaults;
  *options = ossrt_scheduler_options{};
  options->struct_size = sizeof(ossrt_scheduler_options);
  options->max_sessions = defaults.max_sessions;
  options->max_step_tokens = defaults.max_step_tokens;
}

void ossrt_generation_request_init(ossrt_generation_request* request) {
  if (request == nullptr) return;
  *request = ossrt_generation_request{};
  request->struct_size = sizeof(ossrt_generation_request);
  request->max_tokens = GenerationRequest{}.max_tokens;
}

void ossrt_generation_progress_init(ossrt_generation_progress* progress) {
  capi::init_output(progress);
}

void ossrt_step_report_init(ossrt_step_report* report) {
  capi::init_output(report);
}

ossrt_status ossrt_scheduler_create(const ossrt_model* model, const ossrt_scheduler_options* options,
                                    ossrt_scheduler** scheduler_out) {
  return capi::barrier("ossrt_scheduler_create", [&]() -> ossrt_status {
    if (scheduler_out == nullptr) return capi::invalid_argument("ossrt_scheduler_create: scheduler_out is NULL");
    *scheduler_out = nullptr;
    if (!capi::live(model)) return capi::invalid_argument("ossrt_scheduler_create: model is NULL or released");
    if (ossrt_status st = capi::check_options(options, "ossrt_scheduler_create"); st != OSSRT_STATUS_OK) return st;
    ossrt_scheduler_options defaults;
    ossrt_scheduler_options_init(&defaults);
    const ossrt_scheduler_options o = capi::read_versioned(options, defaults);
    SchedulerOptions cpp;
    // Values beyond size_t cannot be valid: they saturate and are refused by create.
    cpp.max_sessions = static_cast<size_t>(std::min<uint64_t>(o.max_sessions, SIZE_MAX));
    cpp.max_step_tokens = static_cast<size_t>(std::min<uint64_t>(o.max_step_tokens, SIZE_MAX));
    auto scheduler = Scheduler::create(model->model, cpp);
    if (!scheduler.ok()) return capi::report(scheduler.status());
    auto handle = std::make_unique<ossrt_scheduler>();
    handle->scheduler = std::move(scheduler.value());
    *scheduler_out = capi::adopt(handle.release());
    return capi::report(Status::success());
  });
}

void ossrt_scheduler_destroy(ossrt_scheduler* scheduler) {
  capi::destroy(scheduler);
}

ossrt_status ossrt_scheduler_join(ossrt_scheduler* scheduler, ossrt_session* session,
                                  const ossrt_generation_request* request) {
  return capi::barrier("ossrt_scheduler_join", [&]() -> ossrt_status {
    if (!capi::live(scheduler)) return capi::invalid_argument("ossrt_scheduler_join: scheduler is NULL or released");
    GenerationRequest cpp;
    const Sampler* sampler = nullptr;
    if (ossrt_status st = request_from(request, cpp, sampler); st != OSSRT_STATUS_OK) return st;
    std::lock_guard lock(scheduler->mutex);
    if (scheduler->claims.count(session) > 0) {
      return capi::report(Status(StatusCode::invalid_state, "ossrt_scheduler_join: the session already joined"));
    }
    auto claim = std::make_unique<capi::SessionClaim>(session, "ossrt_scheduler_join");
    if (!claim->ok()) return claim->status();
    SamplerOptions arg_max;
    arg_max.temperature = 0;
    const Status joined = scheduler->scheduler->join(
        *session->session, sampler != nullptr ? *sampler : Sampler::create(arg_max).value(), std::move(cpp));
    if (!joined.ok()) return capi::report(joined);
    scheduler->claims.emplace(session, std::move(claim));
    return capi::report(Status::success());
  });
}

ossrt_status ossrt_scheduler_leave(ossrt_scheduler* scheduler, ossrt_session* session) {
  return with_joined("ossrt_scheduler_leave", scheduler, session, [&](Session& joined) -> ossrt_status {
    if (Status left = scheduler->scheduler->leave(joined); !left.ok()) return capi::report(left);
    std::unique_ptr<capi::SessionClaim> claim;
    {
      std::lock_guard lock(scheduler->mutex);
      auto it = scheduler->claims.find(session);
      if (it != scheduler->claims.end()) {
        claim = std::move(it->second);
        scheduler->claims.erase(it);
      }
    }
    claim.reset();  // releases the session (and frees it if destroyed meanwhile on its joining thread)
    return capi::report(Status::success());
  });
}

ossrt_status ossrt_scheduler_cancel(ossrt_scheduler* scheduler, ossrt_session* session) {
  return with_joined("ossrt_scheduler_cancel", scheduler, session,
                     [&](Session& joined) { return capi::report(scheduler->scheduler->cancel(joined)); });
}

ossrt_status ossrt_scheduler_step(ossrt_scheduler* scheduler, ossrt_step_report* report) {
  return capi::barrier("ossrt_scheduler_step", [&]() -> ossrt_status {
    if (!capi::live(scheduler)) return capi::invalid_argument("ossrt_scheduler_step: scheduler is NULL or released");
    if (report != nullptr) {
      if (ossrt_status st = capi::check_output(report, "ossrt_scheduler_step", "report", 1); st != OSSRT_STATUS_OK)
        return st;
    }
    auto stepped = scheduler->scheduler->step();
    if (!stepped.ok()) return capi::report(stepped.status());
    if (report != nullptr) {
      ossrt_step_report out{};
      out.decode_tokens = stepped.value().decode_tokens;
      out.prompt_tokens = stepped.value().prompt_tokens;
      out.sessions_ended = stepped.value().sessions_ended;
      capi::copy_versioned(out, report);
    }
    return capi::report(Status::success());
  });
}

ossrt_status ossrt_scheduler_active_sessions(const ossrt_scheduler* scheduler, size_t* n_out) {
  if (!capi::live(scheduler)) {
    return capi::invalid_argument("ossrt_scheduler_active_sessions: scheduler is NULL or released");
  }
  if (n_out == nullptr) return capi::invalid_argument("ossrt_scheduler_active_sessions: n_out is NULL");
  *n_out = scheduler->scheduler->active_sessions();
  return capi::report(Status::success());
}

ossrt_status ossrt_scheduler_progress(const ossrt_scheduler* scheduler, const ossrt_session* session,
                                      ossrt_generation_progress* progress) {
  return with_joined("ossrt_scheduler_progress", scheduler, session, [&](Session& joined) -> ossrt_status {
    // Every caller reads `end` at least.
    if (ossrt_status st = capi::check_output(progress, "ossrt_scheduler_progress", "progress", 2);
        st != OSSRT_STATUS_OK)
      return st;
    auto p = scheduler->scheduler->progress(joined);
    if (!p.ok()) return capi::report(p.status());
    ossrt_generation_progress out{};
    out.end = static_cast<int32_t>(p.value().end);
    out.status = static_cast<ossrt_status>(p.value().status.code());
    out.prompt_left = p.value().prompt_left;
    out.n_tokens = p.value().tokens.size();
    out.reused_tokens = p.value().reused_tokens;
    capi::copy_versioned(out, progress);
    return capi::report(Status::success());
  });
}

ossrt_status ossrt_scheduler_get_tokens(const ossrt_scheduler* scheduler, const ossrt_session* session, int32_t* out,
                                        size_t cap, size_t* n_out) {
  return with_joined("ossrt_scheduler_get_tokens", scheduler, session, [&](Session& joined) -> ossrt_status {
    if (n_out == nullptr || (out == nullptr && cap > 0)) {
      return capi::invalid_argument("ossrt_scheduler_get_tokens: n_out is NULL, or out is NULL with cap > 0");
    }
    auto p = scheduler->scheduler->progress(joined);
    if (!p.ok()) return capi::report(p.status());
    const std::vector<TokenId>& tokens = p.value().tokens;
    return capi::fill_buffer(tokens.data(), tokens.size(), out, cap, n_out);
  });
}

}  // extern "C"
