#include "decode_scheduler.h"

#include <algorithm>
#include <atomic>
#include <list>
#include <optional>

namespace ossrt_server {
namespace {

using ossrt::TokenId;
using ossrt::harmony::ParseEvent;

size_t common_prefix(std::span<const TokenId> a, std::span<const TokenId> b) {
  return static_cast<size_t>(std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin());
}

bool contains(std::span<const TokenId> ids, TokenId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
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
  };

  std::shared_ptr<const ossrt::Model> model;
  ossrt::SessionOptions session_options;
  size_t max_sessions = 0;
  std::unique_ptr<ossrt::BatchDecoder> decoder;
  std::shared_ptr<const ossrt::Tokenizer> tokenizer;
  std::vector<TokenId> action_stops;  // <|return|>, <|call|>
  TokenId call_id = 0;
  std::list<Slot> pool;  // stable addresses: Active points into it
  std::list<Active> active;
  std::atomic<size_t> submitted{0}, finished{0}, cancelled{0};

  // Every job ends here: its stream gets the outcome and the counts move.
  void end(GenerationStream& stream, GenerationOutcome outcome) {
    (outcome.finish_reason == FinishReason::cancelled ? cancelled : finished).fetch_add(1);
    stream.finish(std::move(outcome));
  }

  // The idle slot sharing the longest prefix with `prompt`; a new one while
  // the pool has room and no idle slot shares anything; null when all are busy.
  ossrt::Result<Slot*> pick_slot(std::span<const TokenId> prompt) {
    Slot* best = nullptr;
    size_t best_shared = 0;
    for (Slot& slot : pool) {
      if (slot.busy) continue;
      const size_t shared = common_prefix(slot.session->tokens(), prompt);
      if (!best || shared > best_shared) best = &slot, best_shared = shared;
    }
    if ((!best || best_shared == 0) && pool.size() < max_sessions) {
      auto session = ossrt::Session::create(model, session_options);
      if (!session.ok()) return session.status();
      pool.push_back(Slot{std::move(session.value()), false});
      best = &pool.back();
    }
    return best;
  }

  // The job's next token: its sampler over the session's logits, masked
  // first by its constraint while that constrains.
  static ossrt::Result<TokenId> sample_next(Active& a) {
    const ossrt::Session& session = *a.slot->session;
    std::span<const float> logits = session.logits();
    if (a.job.constraint) {
      auto masked = a.job.constraint->masked(logits);
      if (!masked.ok()) return masked.status();
      logits = masked.value();
    }
    return a.job.sampler.sample(logits, session.tokens(), session.tokens().size());
  }

  void finish(Active& a, FinishReason reason, ossrt::Status status = {}) {
    std::vector<ParseEvent> events;
    static_cast<void>(a.parser.finish(&events));  // lenient: fails only for memory
    a.job.stream->publish(std::move(events));
    a.outcome.finish_reason = reason;
    a.outcome.status = std::move(status);
    end(*a.job.stream, a.outcome);
    a.slot->busy = false;
  }

  // Prefills the job's prompt in a pool slot; false when no slot is idle.
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
    auto reused = s.session->sync_prefix(job.prompt);
    if (!reused.ok()) {
      s.session->reset();  // a failed prefill leaves a partial prompt: nothing worth reusing
      outcome.status = reused.status();
      end(*job.stream, std::move(outcome));
      return true;
    }
    outcome.cached_tokens = reused.value();
    s.busy = true;
    active.push_back(Active{
        std::move(job), &s,
        ossrt::harmony::StreamParser(tokenizer, ossrt::harmony::Role::assistant, ossrt::harmony::ParseMode::lenient),
        std::move(outcome)});
    return true;
  }

  // Samples every active request's next token, finishes those that end, and
  // advances the rest with one batched forward pass.
  void step() {
    std::vector<ossrt::Session*> sessions;
    std::vector<TokenId> tokens;
    std::vector<Active*> stepped;
    for (auto it = active.begin(); it != active.end();) {
      Active& a = *it;
      ossrt::Session& session = *a.slot->session;
      std::optional<FinishReason> reason;
      ossrt::Status failure;
      if (a.job.stream->cancel_requested()) {
        reason = a.job.stream->cancel_reason();
      } else if (a.outcome.completion_tokens >= a.job.max_tokens ||
                 session.tokens().size() >= session.context_length()) {
        reason = FinishReason::length;
      } else {
        auto next = sample_next(a);
        if (!next.ok()) {
          reason = FinishReason::stop;
          failure = next.status();
        } else {
          const bool in_analysis =
              a.parser.state() == ossrt::harmony::ParserState::content && a.parser.current_channel() == "analysis";
          ++a.outcome.completion_tokens;
          a.outcome.reasoning_tokens += in_analysis;
          std::vector<ParseEvent> events;
          static_cast<void>(a.parser.push(next.value(), &events));
          if (a.job.constraint) failure = a.job.constraint->observe(next.value(), a.parser.state(), events);
          a.job.stream->publish(std::move(events));
          if (!failure.ok()) {
            reason = FinishReason::stop;
          } else if (contains(action_stops, next.value())) {
            // The stop token is not appended: the next turn's prompt renders
            // the reply with <|end|> there, so it would be dropped again.
            reason = next.value() == call_id ? FinishReason::tool_calls : FinishReason::stop;
          } else {
            sessions.push_back(&session);
            tokens.push_back(next.value());
            stepped.push_back(&a);
          }
        }
      }
      if (reason) {
        finish(a, *reason, std::move(failure));
        it = active.erase(it);
      } else {
        ++it;
      }
    }
    if (sessions.empty()) return;
    if (ossrt::Status st = decoder->step(sessions, tokens); !st.ok()) {
      // No session changed (or, for non-finite logits, none is usable): all of them end.
      for (Active* a : stepped) {
        a->slot->session->reset();
        finish(*a, FinishReason::stop, st);
      }
      active.remove_if([&](const Active& a) { return std::find(stepped.begin(), stepped.end(), &a) != stepped.end(); });
    }
  }
};

ossrt::Result<std::unique_ptr<DecodeScheduler>> DecodeScheduler::create(std::shared_ptr<const ossrt::Model> model,
                                                                        ossrt::SessionOptions session_options,
                                                                        size_t max_sessions) noexcept {
  try {
    auto decoder = ossrt::BatchDecoder::create(model, max_sessions);
    if (!decoder.ok()) return decoder.status();
    auto tokenizer = model->tokenizer();
    if (!tokenizer.ok()) return tokenizer.status();
    // The first pool session, created now: it resolves the context length
    // and fails early (memory, options) instead of on the first request.
    auto first = ossrt::Session::create(model, session_options);
    if (!first.ok()) return first.status();
    std::unique_ptr<DecodeScheduler> scheduler(new DecodeScheduler());
    scheduler->context_length_ = first.value()->context_length();
    scheduler->tokenizer_ = tokenizer.value();
    auto impl = std::make_unique<Impl>();
    impl->model = std::move(model);
    impl->session_options = std::move(session_options);
    impl->max_sessions = max_sessions;
    impl->decoder = std::move(decoder.value());
    impl->tokenizer = tokenizer.value();
    ossrt::harmony::Renderer renderer(tokenizer.value());
    impl->action_stops = renderer.stop_tokens_for_assistant_actions();
    impl->call_id = tokenizer.value()->special_id(ossrt::SpecialToken::call);
    impl->pool.push_back(Impl::Slot{std::move(first.value()), false});
    scheduler->impl_ = std::move(impl);
    scheduler->thread_ = std::thread([s = scheduler.get()] { s->run(); });
    return scheduler;
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
  counts.finished = impl_->finished.load();
  counts.cancelled = impl_->cancelled.load();
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
