#include "decode_scheduler.h"

#include <algorithm>
#include <atomic>
#include <list>
#include <optional>

namespace ossrt_server {
namespace {

using ossrt::GenerationEnd;
using ossrt::TokenId;
using ossrt::harmony::ParseEvent;

size_t common_prefix(std::span<const TokenId> a, std::span<const TokenId> b) {
  return static_cast<size_t>(std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin());
}

bool contains(std::span<const TokenId> ids, TokenId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// The scheduler's logits hook for a structured request: the constraint's
// mask while it constrains the next token, nothing otherwise.
ossrt::Status apply_constraint(ossrt::ChatConstraint& constraint, std::span<float> logits) {
  if (!constraint.constrained()) return ossrt::Status::success();
  auto masked = constraint.masked(logits);
  if (!masked.ok()) return masked.status();
  std::copy(masked.value().begin(), masked.value().end(), logits.begin());
  return ossrt::Status::success();
}

}  // namespace

struct DecodeScheduler::Impl {
  struct Slot {
    std::unique_ptr<ossrt::Session> session;
    bool busy = false;
  };
  // A running request: its pool session, parser and counts.
  struct Active {
    GenerationJob job;
    Slot* slot = nullptr;
    ossrt::harmony::StreamParser parser;
    GenerationOutcome outcome;
    bool prefilling = true;  // no token sampled yet
    // Set when on_token ended the generation (a stop token, a constraint
    // failure, the client): the scheduler then reports it as cancelled.
    std::optional<FinishReason> reason;
    ossrt::Status failure;
  };

  std::shared_ptr<const ossrt::Model> model;
  ossrt::SessionOptions session_options;
  size_t max_sessions = 0;
  std::shared_ptr<const ossrt::Tokenizer> tokenizer;
  std::vector<TokenId> action_stops;  // <|return|>, <|call|>
  TokenId call_id = 0;
  std::list<Slot> pool;      // stable addresses: Active points into it
  std::list<Active> active;  // stable addresses: the scheduler's callbacks point into it
  // Declared after the pool, so destroyed before the sessions joined to it.
  std::unique_ptr<ossrt::Scheduler> scheduler;
  std::atomic<size_t> submitted{0}, prefilling{0}, finished{0}, cancelled{0}, sessions{0};

  // Every job ends here: its stream gets the outcome and the counts move.
  void end(GenerationStream& stream, GenerationOutcome outcome) {
    (outcome.finish_reason == FinishReason::cancelled ? cancelled : finished).fetch_add(1);
    stream.finish(std::move(outcome));
  }

  // The idle slot sharing the longest prefix with `prompt`; where none shares
  // anything, an idle empty one (the first, created at startup), else a new
  // one while the pool has room; null when all are busy.
  ossrt::Result<Slot*> pick_slot(std::span<const TokenId> prompt) {
    Slot* best = nullptr;
    Slot* empty = nullptr;  // an idle session holding nothing: taking it loses no cache
    size_t best_shared = 0;
    for (Slot& slot : pool) {
      if (slot.busy) continue;
      if (slot.session->tokens().empty() && !empty) empty = &slot;
      const size_t shared = common_prefix(slot.session->tokens(), prompt);
      if (!best || shared > best_shared) best = &slot, best_shared = shared;
    }
    if (best_shared == 0 && empty) return empty;
    // A new session rather than an idle one's cache, which its conversation's next turn may want.
    if ((!best || best_shared == 0) && pool.size() < max_sessions) {
      auto session = ossrt::Session::create(model, session_options);
      if (!session.ok()) return session.status();
      pool.push_back(Slot{std::move(session.value()), false});
      sessions.fetch_add(1);
      best = &pool.back();
    }
    return best;
  }

  void stop_prefilling(Active& a) {
    if (!a.prefilling) return;
    a.prefilling = false;
    prefilling.fetch_sub(1);
  }

  // Each sampled token, on the step's thread: counted, parsed, published.
  // Returns false to end the generation there (the token is not appended:
  // a stop token's turn is rendered with <|end|> in the next prompt, so it
  // would be dropped again).
  bool on_token(Active& a, TokenId token) {
    stop_prefilling(a);
    if (a.job.stream->cancel_requested()) {
      a.reason = a.job.stream->cancel_reason();
      return false;
    }
    const bool in_analysis =
        a.parser.state() == ossrt::harmony::ParserState::content && a.parser.current_channel() == "analysis";
    ++a.outcome.completion_tokens;
    a.outcome.reasoning_tokens += in_analysis;
    std::vector<ParseEvent> events;
    static_cast<void>(a.parser.push(token, &events));
    if (a.job.constraint) a.failure = a.job.constraint->observe(token, a.parser.state(), events);
    a.job.stream->publish(std::move(events));
    if (!a.failure.ok()) {
      a.reason = FinishReason::stop;
    } else if (contains(action_stops, token)) {
      a.reason = token == call_id ? FinishReason::tool_calls : FinishReason::stop;
    }
    return !a.reason.has_value();
  }

  // Joins the job's session, picked from the pool, to the scheduler; false
  // when no slot is idle.
  bool admit(GenerationJob& job) {
    auto slot = pick_slot(job.prompt);
    if (!slot.ok()) {
      end(*job.stream, GenerationOutcome{slot.status()});
      return true;
    }
    if (!slot.value()) return false;
    Slot& s = *slot.value();
    GenerationOutcome outcome;
    outcome.prompt_tokens = job.prompt.size();
    Active& a = active.emplace_back(Active{
        std::move(job), &s,
        ossrt::harmony::StreamParser(tokenizer, ossrt::harmony::Role::assistant, ossrt::harmony::ParseMode::lenient),
        std::move(outcome), true, std::nullopt, ossrt::Status::success()});
    ossrt::GenerationRequest request;
    request.prompt = std::move(a.job.prompt);
    request.reuse_prefix = true;
    request.max_tokens = a.job.max_tokens;
    request.on_token = [this, &a](TokenId token) { return on_token(a, token); };
    if (a.job.constraint) {
      request.logits_processor = [&constraint = *a.job.constraint](std::span<float> logits) {
        return apply_constraint(constraint, logits);
      };
    }
    if (ossrt::Status joined = scheduler->join(*s.session, a.job.sampler, std::move(request)); !joined.ok()) {
      a.outcome.status = std::move(joined);
      end(*a.job.stream, std::move(a.outcome));
      active.pop_back();
      return true;
    }
    auto progress = scheduler->progress(*s.session);
    if (progress.ok()) a.outcome.cached_tokens = progress.value().reused_tokens;
    s.busy = true;
    prefilling.fetch_add(1);
    return true;
  }

  // Ends the request: the parser's last events and the outcome go to its
  // stream, its session leaves the scheduler and returns to the pool.
  void finish(Active& a, FinishReason reason, ossrt::Status status = {}) {
    stop_prefilling(a);
    std::vector<ParseEvent> events;
    static_cast<void>(a.parser.finish(&events));  // lenient: fails only for memory
    a.job.stream->publish(std::move(events));
    static_cast<void>(scheduler->leave(*a.slot->session));  // joined: cannot fail
    // A failed pass leaves nothing worth reusing (nor, perhaps, usable logits).
    if (!status.ok()) a.slot->session->reset();
    a.slot->busy = false;
    a.outcome.finish_reason = reason;
    a.outcome.status = std::move(status);
    end(*a.job.stream, std::move(a.outcome));
  }

  // Finishes the requests whose generation ended, each with its reason:
  // what on_token decided, else the scheduler's.
  void finish_ended() {
    for (auto it = active.begin(); it != active.end();) {
      Active& a = *it;
      auto progress = scheduler->progress(*a.slot->session);
      const GenerationEnd ended = progress.ok() ? progress.value().end : GenerationEnd::failed;
      if (ended == GenerationEnd::running) {
        ++it;
        continue;
      }
      if (a.reason) {
        finish(a, *a.reason, std::move(a.failure));
      } else if (ended == GenerationEnd::max_tokens || ended == GenerationEnd::context_full) {
        finish(a, FinishReason::length);
      } else if (ended == GenerationEnd::cancelled) {
        finish(a, a.job.stream->cancel_reason());
      } else {
        finish(a, FinishReason::stop, progress.ok() ? progress.value().status : progress.status());
      }
      it = active.erase(it);
    }
  }

  // One scheduler step over the running requests; a client that went away
  // is cancelled first (its generation ends before the step runs).
  void step() {
    for (Active& a : active)
      if (a.job.stream->cancel_requested()) static_cast<void>(scheduler->cancel(*a.slot->session));
    if (active.empty()) return;
    auto report = scheduler->step();
    if (!report.ok()) {
      for (Active& a : active) finish(a, FinishReason::stop, report.status());
      active.clear();
    } else if (report.value().sessions_ended > 0) {
      finish_ended();
    }
  }
};

ossrt::Result<std::unique_ptr<DecodeScheduler>> DecodeScheduler::create(std::shared_ptr<const ossrt::Model> model,
                                                                        ossrt::SessionOptions session_options,
                                                                        size_t max_sessions,
                                                                        size_t max_step_tokens) noexcept {
  try {
    ossrt::SchedulerOptions scheduler_options;
    scheduler_options.max_sessions = max_sessions;
    scheduler_options.max_step_tokens = max_step_tokens != 0 ? max_step_tokens : std::max<size_t>(64, max_sessions);
    auto scheduler = ossrt::Scheduler::create(model, scheduler_options);
    if (!scheduler.ok()) return scheduler.status();
    auto tokenizer = model->tokenizer();
    if (!tokenizer.ok()) return tokenizer.status();
    // The first pool session, created now: it resolves the context length
    // and fails early (memory, options) instead of on the first request.
    auto first = ossrt::Session::create(model, session_options);
    if (!first.ok()) return first.status();
    std::unique_ptr<DecodeScheduler> server(new DecodeScheduler());
    server->context_length_ = first.value()->context_length();
    server->tokenizer_ = tokenizer.value();
    auto impl = std::make_unique<Impl>();
    impl->model = std::move(model);
    impl->session_options = std::move(session_options);
    impl->max_sessions = max_sessions;
    impl->scheduler = std::move(scheduler.value());
    impl->tokenizer = tokenizer.value();
    ossrt::harmony::Renderer renderer(tokenizer.value());
    impl->action_stops = renderer.stop_tokens_for_assistant_actions();
    impl->call_id = tokenizer.value()->special_id(ossrt::SpecialToken::call);
    impl->pool.push_back(Impl::Slot{std::move(first.value()), false});
    impl->sessions.store(1);
    server->impl_ = std::move(impl);
    server->thread_ = std::thread([s = server.get()] { s->run(); });
    return server;
  } catch (const std::bad_alloc&) {
    return ossrt::Status(ossrt::StatusCode::out_of_memory, "serve: out of memory creating the scheduler");
  } catch (const std::system_error& e) {
    return ossrt::Status(ossrt::StatusCode::internal, std::string("serve: cannot start the scheduler: ") + e.what());
  }
}

DecodeScheduler::~DecodeScheduler() {
  stop();
}

void DecodeScheduler::submit(GenerationJob job) {
  impl_->submitted.fetch_add(1);
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queued_.push_back(std::move(job));
      wake_.notify_all();
      return;
    }
  }
  impl_->end(*job.stream, GenerationOutcome{ossrt::Status(ossrt::StatusCode::cancelled, "the server is stopping"),
                                            FinishReason::cancelled});
}

DecodeScheduler::Counts DecodeScheduler::counts() const noexcept {
  Counts counts;
  counts.prefilling = impl_->prefilling.load();
  counts.finished = impl_->finished.load();
  counts.cancelled = impl_->cancelled.load();
  counts.sessions = impl_->sessions.load();
  // Read last: a job counted as ended was submitted before.
  counts.running = impl_->submitted.load() - counts.finished - counts.cancelled;
  return counts;
}

void DecodeScheduler::stop() noexcept {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DecodeScheduler::run() noexcept {
  Impl& impl = *impl_;
  std::deque<GenerationJob> waiting;  // taken from the queue, no idle session yet
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queued_.empty() || !impl.active.empty() || !waiting.empty(); });
      if (stopping_) break;
      while (!queued_.empty()) {
        waiting.push_back(std::move(queued_.front()));
        queued_.pop_front();
      }
    }
    while (!waiting.empty()) {
      if (waiting.front().stream->cancel_requested()) {
        impl.end(*waiting.front().stream, GenerationOutcome{{}, waiting.front().stream->cancel_reason()});
      } else if (!impl.admit(waiting.front())) {
        break;  // every session is busy: wait for one to finish
      }
      waiting.pop_front();
    }
    impl.step();
  }
  const ossrt::Status stopped(ossrt::StatusCode::cancelled, "the server is stopping");
  for (Impl::Active& a : impl.active) impl.finish(a, FinishReason::cancelled, stopped);
  impl.active.clear();
  std::lock_guard lock(mutex_);
  for (auto* jobs : {&waiting, &queued_})
    for (GenerationJob& job : *jobs) impl.end(*job.stream, GenerationOutcome{stopped, FinishReason::cancelled});
}

}  // namespace ossrt_server
