#include "ossrt/scheduler.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "model/session_impl.h"
#include "ossrt/batch_decoder.hpp"
#include "util/errors.h"

namespace ossrt {

namespace {

// One joined session. Owned through a unique_ptr, so that a step's chunks
// may point at its prompt and pending token while the member list changes.
struct Member {
  Session* session = nullptr;
  Sampler sampler;
  GenerationRequest request;
  GenerationProgress progress;  // progress.prompt_left is filled in by progress()
  size_t prompt_done = 0;       // prompt tokens appended
  bool has_pending = false;     // `pending` was sampled and waits for the next step
  TokenId pending = 0;
  bool cancel_requested = false;
  bool in_step = false;  // the running pass holds rows of it
  size_t step_prompt = 0;

  bool running() const { return progress.end == GenerationEnd::running; }
  size_t prompt_left() const { return request.prompt.size() - prompt_done; }
};

// A token to report through on_token once the lock is released.
struct Sampled {
  Member* member;
  TokenId token;
};

// A member to sample this step, and what its draw gave.
struct Drawn {
  Member* member;
  Result<TokenId> token;
};

}  // namespace

struct Scheduler::Impl {
  std::shared_ptr<const Model> model;
  SchedulerOptions options;
  std::unique_ptr<BatchDecoder> decoder;

  mutable std::mutex mutex;
  std::condition_variable step_finished;
  std::vector<std::unique_ptr<Member>> members;  // join order
  bool stepping = false;
  std::thread::id step_thread;
  // Members that left from an on_token callback during the step: freed when
  // the step ends, as the step still holds their addresses.
  std::vector<std::unique_ptr<Member>> left_during_step;
  // Per-step staging, kept for its capacity.
  std::vector<SessionChunk> chunks;
  std::vector<Sampled> sampled;
  std::vector<Drawn> to_sample;
  std::vector<float> processed_logits;  // what a logits processor changes

  Member* find(const Session* session) const {
    for (const auto& m : members)
      if (m->session == session) return m.get();
    return nullptr;
  }
  Status not_joined(const char* where) const {
    return error(StatusCode::invalid_argument, "Scheduler::%s: the session has not joined this scheduler", where);
  }
  Result<size_t> check_join(Session& session, const GenerationRequest& request) const;
  size_t plan_step();
  size_t end(Member& m, GenerationEnd reason, Status status = {});
  size_t end_finished();
  void sample_listed();
  size_t record_drawn();
  Result<StepReport> step();
};

Scheduler::Scheduler(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
Scheduler::~Scheduler() = default;

Result<std::unique_ptr<Scheduler>> Scheduler::create(std::shared_ptr<const Model> model,
                                                     const SchedulerOptions& options) noexcept {
  return guard("Scheduler::create", [&]() -> Result<std::unique_ptr<Scheduler>> {
    if (model == nullptr) return error(StatusCode::invalid_argument, "Scheduler::create: model is null");
    // BatchDecoder reads 0 as "max_sessions"; here it is a mistake.
    if (options.max_step_tokens == 0)
      return error(StatusCode::invalid_argument, "Scheduler::create: max_step_tokens is 0");
    auto decoder = BatchDecoder::create(model, options.max_sessions, options.max_step_tokens);
    if (!decoder.ok()) {
      return Status(decoder.status().code(), "Scheduler::create: " + decoder.status().message());
    }
    auto impl = std::make_unique<Impl>();
    impl->model = std::move(model);
    impl->options = options;
    impl->decoder = std::move(decoder.value());
    return std::unique_ptr<Scheduler>(new Scheduler(std::move(impl)));
  });
}

const SchedulerOptions& Scheduler::options() const noexcept {
  return impl_->options;
}

size_t Scheduler::active_sessions() const noexcept {
  std::lock_guard lock(impl_->mutex);
  return static_cast<size_t>(
      std::count_if(impl_->members.begin(), impl_->members.end(), [](const auto& m) { return m->running(); }));
}

// The tokens the session keeps (all it holds unless request.reuse_prefix),
// once the request is found valid.
Result<size_t> Scheduler::Impl::check_join(Session& session, const GenerationRequest& request) const {
  const auto& s = SessionAccess::impl(session);
  if (s.model.get() != model.get())
    return error(StatusCode::invalid_argument, "Scheduler::join: the session belongs to another model");
  if (find(&session) != nullptr) return error(StatusCode::invalid_state, "Scheduler::join: the session already joined");
  if (members.size() >= options.max_sessions) {
    return error(StatusCode::invalid_state, "Scheduler::join: %zu sessions are joined (max_sessions); one must leave",
                 members.size());
  }
  if (!members.empty() && SessionAccess::impl(*members.front()->session).options.numerics != s.options.numerics) {
    return error(StatusCode::invalid_argument,
                 "Scheduler::join: the session has other numerics than those joined (a step computes one mode)");
  }
  if (request.max_tokens == 0) return error(StatusCode::invalid_argument, "Scheduler::join: max_tokens is 0");
  const size_t kept = request.reuse_prefix ? s.reusable_prefix(request.prompt) : s.tokens.size();
  const size_t to_prefill = request.reuse_prefix ? request.prompt.size() - kept : request.prompt.size();
  if (to_prefill == 0 && (s.logits.empty() || kept != s.tokens.size())) {
    return error(StatusCode::invalid_argument,
                 "Scheduler::join: an empty prompt needs a session with logits to sample from (append first)");
  }
  const size_t vocab = static_cast<size_t>(model->info().config.vocab_size);
  for (size_t i = 0; i < request.prompt.size(); ++i) {
    const TokenId token = request.prompt[i];
    if (token < 0 || static_cast<size_t>(token) >= vocab) {
      return error(StatusCode::invalid_token, "Scheduler::join: prompt token %d at index %zu is outside [0, %zu)",
                   token, i, vocab);
    }
  }
  if (to_prefill > s.options.context_length - kept) {
    return error(StatusCode::context_overflow,
                 "Scheduler::join: the %zu-token prompt does not fit: the session holds %zu of its %zu-token context",
                 to_prefill, kept, s.options.context_length);
  }
  return kept;
}

Status Scheduler::join(Session& session, const Sampler& sampler, GenerationRequest request) noexcept {
  return guard("Scheduler::join", [&]() -> Status {
    std::lock_guard lock(impl_->mutex);
    const Result<size_t> kept = impl_->check_join(session, request);
    if (!kept.ok()) return kept.status();
    auto member = std::make_unique<Member>(Member{&session, sampler, std::move(request), {}});
    if (member->request.reuse_prefix) {
      auto& prompt = member->request.prompt;
      prompt.erase(prompt.begin(), prompt.begin() + static_cast<std::ptrdiff_t>(kept.value()));
      member->progress.reused_tokens = kept.value();
      // Within the rewind room (reusable_prefix): nothing is recomputed, nothing can fail.
      if (Status st = session.truncate(kept.value()); !st.ok()) return st;
    }
    impl_->members.push_back(std::move(member));
    return Status::success();
  });
}

Status Scheduler::leave(Session& session) noexcept {
  return guard("Scheduler::leave", [&]() -> Status {
    std::unique_lock lock(impl_->mutex);
    const bool from_step = impl_->stepping && impl_->step_thread == std::this_thread::get_id();
    if (!from_step) impl_->step_finished.wait(lock, [&] { return !impl_->stepping; });
    auto& members = impl_->members;
    auto it = std::find_if(members.begin(), members.end(), [&](const auto& m) { return m->session == &session; });
    if (it == members.end()) return impl_->not_joined("leave");
    if (from_step) impl_->left_during_step.push_back(std::move(*it));
    members.erase(it);
    return Status::success();
  });
}

Status Scheduler::cancel(Session& session) noexcept {
  std::lock_guard lock(impl_->mutex);
  Member* m = impl_->find(&session);
  if (m == nullptr) return impl_->not_joined("cancel");
  m->cancel_requested = true;
  return Status::success();
}

Result<GenerationProgress> Scheduler::progress(const Session& session) const noexcept {
  return guard("Scheduler::progress", [&]() -> Result<GenerationProgress> {
    std::lock_guard lock(impl_->mutex);
    const Member* m = impl_->find(&session);
    if (m == nullptr) return impl_->not_joined("progress");
    GenerationProgress progress = m->progress;
    progress.prompt_left = m->prompt_left();
    return progress;
  });
}

Result<StepReport> Scheduler::step() noexcept {
  return guard("Scheduler::step", [&]() -> Result<StepReport> { return impl_->step(); });
}

size_t Scheduler::Impl::end(Member& m, GenerationEnd reason, Status status) {
  if (!m.running()) return 0;
  m.progress.end = reason;
  m.progress.status = std::move(status);
  m.has_pending = false;
  return 1;
}

// Decodes first (one row each), then prompt chunks in join order while the
// step has room. Ends cancelled members first and returns how many.
size_t Scheduler::Impl::plan_step() {
  size_t ended = 0;
  chunks.clear();
  size_t budget = decoder->max_step_tokens();
  for (auto& m : members) {
    if (m->cancel_requested) ended += end(*m, GenerationEnd::cancelled);
    if (!m->running() || !m->has_pending) continue;
    m->in_step = true;
    m->step_prompt = 0;
    chunks.push_back({m->session, std::span<const TokenId>(&m->pending, 1)});
    --budget;
  }
  for (auto& m : members) {
    if (budget == 0) break;
    if (!m->running() || m->prompt_left() == 0) continue;
    const size_t chunk_limit = SessionAccess::impl(*m->session).options.max_batch_tokens;
    const size_t n = std::min({m->prompt_left(), chunk_limit, budget});
    m->in_step = true;
    m->step_prompt = n;
    chunks.push_back({m->session, std::span<const TokenId>(m->request.prompt).subspan(m->prompt_done, n)});
    budget -= n;
  }
  return ended;
}

// Ends the members that are done and lists in `to_sample` the others whose
// logits predict their next token (prompt appended, no token pending).
// Returns how many ended.
size_t Scheduler::Impl::end_finished() {
  size_t ended = 0;
  to_sample.clear();
  for (auto& member : members) {
    Member& m = *member;
    if (!m.running() || m.has_pending || m.prompt_left() > 0) continue;
    if (m.cancel_requested) {
      ended += end(m, GenerationEnd::cancelled);
      continue;
    }
    const std::vector<TokenId>& out = m.progress.tokens;
    const auto& stops = m.request.stop_tokens;
    if (!out.empty() && std::find(stops.begin(), stops.end(), out.back()) != stops.end()) {
      ended += end(m, GenerationEnd::stop_token);
      continue;
    }
    if (out.size() >= m.request.max_tokens) {
      ended += end(m, GenerationEnd::max_tokens);
      continue;
    }
    const Session& s = *m.session;
    if (s.tokens().size() >= s.context_length()) {
      ended += end(m, GenerationEnd::context_full);
      continue;
    }
    to_sample.push_back({&m, 0});
  }
  return ended;
}

// Draws each listed member's next token, through its logits processor.
// Unlocked: only this step touches the members' sessions and samplers.
void Scheduler::Impl::sample_listed() {
  for (Drawn& drawn : to_sample) {
    Member& m = *drawn.member;
    const Session& s = *m.session;
    std::span<const float> logits = s.logits();
    if (m.request.logits_processor) {
      processed_logits.assign(logits.begin(), logits.end());
      if (Status st = m.request.logits_processor(processed_logits); !st.ok()) {
        drawn.token = st;
        continue;
      }
      logits = processed_logits;
    }
    drawn.token = m.sampler.sample(logits, s.tokens(), s.tokens().size());
  }
}

// Records the drawn tokens (or ends the members whose draw failed) and lists
// those to report through on_token. Returns how many ended.
size_t Scheduler::Impl::record_drawn() {
  size_t ended = 0;
  sampled.clear();
  for (Drawn& drawn : to_sample) {
    Member& m = *drawn.member;
    if (!drawn.token.ok()) {
      ended += end(m, GenerationEnd::failed, drawn.token.status());
      continue;
    }
    const TokenId token = drawn.token.value();
    m.progress.tokens.push_back(token);
    m.pending = token;
    m.has_pending = true;
    if (m.request.on_token) sampled.push_back({&m, token});
  }
  return ended;
}

Result<StepReport> Scheduler::Impl::step() {
  StepReport report;
  {
    std::lock_guard lock(mutex);
    if (stepping) return error(StatusCode::invalid_state, "Scheduler::step: another step is running");
    stepping = true;
    step_thread = std::this_thread::get_id();
    report.sessions_ended = plan_step();
  }
  // Whatever happens below, the step ends: leave() waits for this.
  struct EndStep {
    Impl& impl;
    ~EndStep() {
      std::lock_guard lock(impl.mutex);
      impl.stepping = false;
      impl.left_during_step.clear();
      for (auto& m : impl.members) m->in_step = false;
      impl.step_finished.notify_all();
    }
  } end_step{*this};

  // The forward pass runs unlocked: join, cancel and progress go on meanwhile.
  const Status pass = chunks.empty() ? Status::success() : decoder->step(chunks);
  {
    std::lock_guard lock(mutex);
    const bool appended = pass.ok() || pass.code() == StatusCode::invalid_checkpoint;
    for (auto& m : members) {
      if (!m->in_step) continue;
      if (!appended) {
        report.sessions_ended += end(*m, GenerationEnd::failed, pass);
        continue;
      }
      if (m->step_prompt > 0) {
        m->prompt_done += m->step_prompt;
        report.prompt_tokens += m->step_prompt;
      } else {
        m->has_pending = false;
        ++report.decode_tokens;
      }
      if (m->session->logits().empty())  // this session's logits are not finite
        report.sessions_ended += end(*m, GenerationEnd::failed, pass);
    }
    report.sessions_ended += end_finished();
  }
  // Logits processors run unlocked, like on_token below.
  sample_listed();
  {
    std::lock_guard lock(mutex);
    report.sessions_ended += record_drawn();
  }
  // on_token runs unlocked, so it may call join, cancel, progress and leave.
  for (const Sampled& s : sampled) {
    if (s.member->request.on_token(s.token)) continue;
    std::lock_guard lock(mutex);
    report.sessions_ended += end(*s.member, GenerationEnd::cancelled);
  }
  return report;
}

}  // namespace ossrt
