// Scheduler: sessions joining at different steps, prefilled in chunks beside
// others' decodes, must each end as Session::generate leaves a session run
// alone (issue 31): the same tokens, the same session, logits within 1e-5 in
// exact numerics; a cancel or a leave touches only its own session.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <thread>
#include <vector>

#include "ossrt/ossrt.hpp"

using namespace ossrt;
namespace fs = std::filesystem;

namespace {

const fs::path kTinyA = OSSRT_TEST_DATA_DIR "/tiny-a";

std::shared_ptr<const Model> load_tiny() {
  auto model = Model::load(kTinyA);
  REQUIRE_MESSAGE(model.ok(), model.status().to_string());
  return model.value();
}

Sampler greedy() {
  SamplerOptions options;
  options.temperature = 0;
  return Sampler::create(options).value();
}

std::unique_ptr<Session> new_session(const std::shared_ptr<const Model>& model, SessionOptions options = {}) {
  auto session = Session::create(model, options);
  REQUIRE(session.ok());
  return std::move(session.value());
}

std::vector<TokenId> prompt_of(size_t n, TokenId seed) {
  std::vector<TokenId> tokens;
  for (size_t i = 0; i < n; ++i) tokens.push_back(static_cast<TokenId>((seed + 53 * i * i + 7 * i) % 1536));
  return tokens;
}

// A session run alone: the prompt appended, then Session::generate.
struct Alone {
  std::vector<TokenId> generated, tokens;
  std::vector<float> logits;
};

Alone run_alone(const std::shared_ptr<const Model>& model, const std::vector<TokenId>& prompt, size_t max_tokens,
                const Sampler& sampler, const std::vector<TokenId>& stops = {}) {
  auto session = new_session(model);
  REQUIRE(session->append(prompt).ok());
  auto generated = session->generate(max_tokens, sampler, stops);
  REQUIRE(generated.ok());
  return {generated.value(),
          {session->tokens().begin(), session->tokens().end()},
          {session->logits().begin(), session->logits().end()}};
}

float max_difference(std::span<const float> a, std::span<const float> b) {
  REQUIRE(a.size() == b.size());
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

GenerationRequest request_for(std::vector<TokenId> prompt, size_t max_tokens) {
  GenerationRequest request;
  request.prompt = std::move(prompt);
  request.max_tokens = max_tokens;
  return request;
}

// Steps until no session is running (bounded, so a bug cannot hang the suite).
std::vector<StepReport> run_to_end(Scheduler& scheduler) {
  std::vector<StepReport> reports;
  for (size_t i = 0; i < 500 && scheduler.active_sessions() > 0; ++i) {
    auto report = scheduler.step();
    REQUIRE_MESSAGE(report.ok(), report.status().to_string());
    reports.push_back(report.value());
  }
  CHECK(scheduler.active_sessions() == 0);
  return reports;
}

GenerationProgress progress_of(const Scheduler& scheduler, const Session& session) {
  auto progress = scheduler.progress(session);
  REQUIRE(progress.ok());
  return progress.value();
}

// Polls from this thread while another one steps.
void wait_for_end(const Scheduler& scheduler, const Session& session) {
  for (;;) {
    auto progress = scheduler.progress(session);
    REQUIRE(progress.ok());
    if (progress.value().end != GenerationEnd::running) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace

TEST_CASE("sessions joining at different steps generate what each generates alone") {
  const auto model = load_tiny();
  const std::vector<std::vector<TokenId>> prompts = {prompt_of(3, 1), prompt_of(17, 2), prompt_of(1, 3),
                                                     prompt_of(40, 4)};
  const std::vector<size_t> max_tokens = {12, 9, 15, 6};
  const std::vector<size_t> join_at = {0, 0, 3, 5};  // the step before which each joins
  std::vector<Alone> alone;
  for (size_t i = 0; i < prompts.size(); ++i) alone.push_back(run_alone(model, prompts[i], max_tokens[i], greedy()));

  SchedulerOptions options;
  options.max_sessions = 4;
  options.max_step_tokens = 10;  // the long prompts take several steps beside the decodes
  auto scheduler = Scheduler::create(model, options);
  REQUIRE(scheduler.ok());
  Scheduler& s = *scheduler.value();
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<std::vector<TokenId>> streamed(prompts.size());
  for (size_t i = 0; i < prompts.size(); ++i) sessions.push_back(new_session(model));
  std::vector<StepReport> reports;
  size_t mixed_steps = 0;
  for (size_t step = 0; step < 200; ++step) {
    for (size_t i = 0; i < prompts.size(); ++i) {
      if (join_at[i] != step) continue;
      GenerationRequest request = request_for(prompts[i], max_tokens[i]);
      request.on_token = [&streamed, i](TokenId token) {
        streamed[i].push_back(token);
        return true;
      };
      REQUIRE(s.join(*sessions[i], greedy(), std::move(request)).ok());
    }
    if (step > join_at.back() && s.active_sessions() == 0) break;
    auto report = s.step();
    REQUIRE(report.ok());
    CHECK(report.value().decode_tokens + report.value().prompt_tokens <= options.max_step_tokens);
    mixed_steps += report.value().decode_tokens > 0 && report.value().prompt_tokens > 0;
  }
  CHECK(mixed_steps >= 3);  // prompt chunks shared steps with decodes
  for (size_t i = 0; i < prompts.size(); ++i) {
    CAPTURE(i);
    const GenerationProgress progress = progress_of(s, *sessions[i]);
    CHECK(progress.end == GenerationEnd::max_tokens);
    CHECK(progress.prompt_left == 0);
    CHECK(progress.tokens == alone[i].generated);
    CHECK(streamed[i] == alone[i].generated);
    CHECK(std::vector<TokenId>(sessions[i]->tokens().begin(), sessions[i]->tokens().end()) == alone[i].tokens);
    CHECK(max_difference(sessions[i]->logits(), alone[i].logits) < 1e-5f);
  }
  for (auto& session : sessions) CHECK(s.leave(*session).ok());
}

TEST_CASE("a scheduled session samples as Session::generate does and stops at its stop token") {
  const auto model = load_tiny();
  SamplerOptions sampled;
  sampled.temperature = 0.8f;
  sampled.top_k = 40;
  sampled.seed = 2026;
  const Sampler sampler = Sampler::create(sampled).value();
  const std::vector<TokenId> prompt = prompt_of(9, 5);
  const Alone free_run = run_alone(model, prompt, 10, sampler);
  // Stop at the fourth token: included, appended, nothing after it.
  const std::vector<TokenId> stops = {free_run.generated[3]};
  const Alone stopped = run_alone(model, prompt, 10, sampler, stops);
  REQUIRE(stopped.generated.size() <= 4);

  auto scheduler = Scheduler::create(model);
  REQUIRE(scheduler.ok());
  auto a = new_session(model), b = new_session(model);
  REQUIRE(scheduler.value()->join(*a, sampler, request_for(prompt, 10)).ok());
  GenerationRequest with_stop = request_for(prompt, 10);
  with_stop.stop_tokens = stops;
  REQUIRE(scheduler.value()->join(*b, sampler, with_stop).ok());
  run_to_end(*scheduler.value());
  CHECK(progress_of(*scheduler.value(), *a).tokens == free_run.generated);
  const GenerationProgress b_progress = progress_of(*scheduler.value(), *b);
  CHECK(b_progress.end == GenerationEnd::stop_token);
  CHECK(b_progress.tokens == stopped.generated);
  CHECK(std::vector<TokenId>(b->tokens().begin(), b->tokens().end()) == stopped.tokens);
}

TEST_CASE("cancelling one scheduled session leaves the others generating as alone") {
  const auto model = load_tiny();
  const std::vector<std::vector<TokenId>> prompts = {prompt_of(4, 11), prompt_of(6, 12), prompt_of(2, 13)};
  std::vector<Alone> alone;
  for (const auto& prompt : prompts) alone.push_back(run_alone(model, prompt, 14, greedy()));
  auto scheduler = Scheduler::create(model);
  REQUIRE(scheduler.ok());
  Scheduler& s = *scheduler.value();
  std::vector<std::unique_ptr<Session>> sessions;
  for (const auto& prompt : prompts) {
    sessions.push_back(new_session(model));
    REQUIRE(s.join(*sessions.back(), greedy(), request_for(prompt, 14)).ok());
  }
  for (int i = 0; i < 5; ++i) REQUIRE(s.step().ok());
  REQUIRE(s.cancel(*sessions[1]).ok());
  const size_t held = sessions[1]->tokens().size();
  auto report = s.step();
  REQUIRE(report.ok());
  CHECK(report.value().sessions_ended == 1);
  CHECK(sessions[1]->tokens().size() == held);  // ended before the step: nothing more appended
  CHECK(s.active_sessions() == 2);
  run_to_end(s);
  const GenerationProgress cancelled = progress_of(s, *sessions[1]);
  CHECK(cancelled.end == GenerationEnd::cancelled);
  REQUIRE(cancelled.tokens.size() < alone[1].generated.size());
  CHECK(std::equal(cancelled.tokens.begin(), cancelled.tokens.end(), alone[1].generated.begin()));
  CHECK(s.cancel(*sessions[1]).ok());  // already ended: nothing changes
  for (size_t i : {size_t{0}, size_t{2}}) {
    CAPTURE(i);
    CHECK(progress_of(s, *sessions[i]).end == GenerationEnd::max_tokens);
    CHECK(progress_of(s, *sessions[i]).tokens == alone[i].generated);
    CHECK(max_difference(sessions[i]->logits(), alone[i].logits) < 1e-5f);
  }
  // The cancelled session is still usable: it continues where it stopped.
  REQUIRE(s.leave(*sessions[1]).ok());
  CHECK(sessions[1]->append(std::vector<TokenId>{1}).ok());
}

TEST_CASE("sessions leave and join between steps; a callback may end or remove its own session") {
  const auto model = load_tiny();
  SchedulerOptions options;
  options.max_sessions = 2;
  options.max_step_tokens = 6;
  auto scheduler = Scheduler::create(model, options);
  REQUIRE(scheduler.ok());
  Scheduler& s = *scheduler.value();
  const std::vector<TokenId> p0 = prompt_of(5, 21), p1 = prompt_of(8, 22), p2 = prompt_of(11, 23);
  auto a = new_session(model), b = new_session(model), c = new_session(model);
  REQUIRE(s.join(*a, greedy(), request_for(p0, 20)).ok());
  REQUIRE(s.join(*b, greedy(), request_for(p1, 10)).ok());
  CHECK(s.join(*c, greedy(), request_for(p2, 10)).code() == StatusCode::invalid_state);  // full
  for (int i = 0; i < 4; ++i) REQUIRE(s.step().ok());
  // a leaves mid-generation: it keeps what was appended; c takes its place.
  REQUIRE(s.leave(*a).ok());
  const size_t a_held = a->tokens().size();
  CHECK(s.progress(*a).status().code() == StatusCode::invalid_argument);
  REQUIRE(s.join(*c, greedy(), request_for(p2, 10)).ok());
  run_to_end(s);
  CHECK(a->tokens().size() == a_held);
  CHECK(progress_of(s, *b).tokens == run_alone(model, p1, 10, greedy()).generated);
  CHECK(progress_of(s, *c).tokens == run_alone(model, p2, 10, greedy()).generated);
  REQUIRE(s.leave(*b).ok());
  REQUIRE(s.leave(*c).ok());

  // A callback that returns false ends its generation (its token reported,
  // not appended); one that leaves removes its session during the step.
  auto d = new_session(model), e = new_session(model);
  GenerationRequest stop_after_two = request_for(p0, 10);
  size_t seen = 0;
  stop_after_two.on_token = [&seen, &s](TokenId) {
    CHECK(s.step().status().code() == StatusCode::invalid_state);  // a step is running: this one
    return ++seen < 2;
  };
  REQUIRE(s.join(*d, greedy(), std::move(stop_after_two)).ok());
  GenerationRequest leave_at_first = request_for(p1, 10);
  Session* e_session = e.get();
  leave_at_first.on_token = [&s, e_session](TokenId) { return s.leave(*e_session).ok(); };
  REQUIRE(s.join(*e, greedy(), std::move(leave_at_first)).ok());
  run_to_end(s);
  const GenerationProgress d_progress = progress_of(s, *d);
  CHECK(d_progress.end == GenerationEnd::cancelled);
  CHECK(d_progress.tokens.size() == 2);
  CHECK(d->tokens().size() == p0.size() + 1);
  CHECK(s.progress(*e).status().code() == StatusCode::invalid_argument);
  CHECK(e->tokens().size() == p1.size());
}

TEST_CASE("a scheduled session ends when its context is full, and on an empty prompt it continues") {
  const auto model = load_tiny();
  SessionOptions small;
  small.context_length = 20;
  auto session = new_session(model, small);
  auto scheduler = Scheduler::create(model);
  REQUIRE(scheduler.ok());
  REQUIRE(scheduler.value()->join(*session, greedy(), request_for(prompt_of(15, 31), 100)).ok());
  run_to_end(*scheduler.value());
  const GenerationProgress progress = progress_of(*scheduler.value(), *session);
  CHECK(progress.end == GenerationEnd::context_full);
  CHECK(progress.tokens.size() == 5);
  CHECK(session->tokens().size() == 20);

  // An empty prompt samples from the logits the session already has.
  const std::vector<TokenId> prompt = prompt_of(6, 32);
  auto resumed = new_session(model);
  REQUIRE(resumed->append(prompt).ok());
  REQUIRE(scheduler.value()->join(*resumed, greedy(), request_for({}, 7)).ok());
  run_to_end(*scheduler.value());
  CHECK(progress_of(*scheduler.value(), *resumed).tokens == run_alone(model, prompt, 7, greedy()).generated);
}

TEST_CASE("the scheduler refuses bad sessions and requests with a status") {
  const auto model = load_tiny();
  CHECK(Scheduler::create(nullptr).status().code() == StatusCode::invalid_argument);
  SchedulerOptions bad;
  bad.max_sessions = 8;
  bad.max_step_tokens = 4;
  CHECK(Scheduler::create(model, bad).status().code() == StatusCode::invalid_argument);
  bad.max_sessions = 0;
  CHECK(Scheduler::create(model, bad).status().code() == StatusCode::invalid_argument);
  bad.max_sessions = 1;
  bad.max_step_tokens = 0;
  CHECK(Scheduler::create(model, bad).status().code() == StatusCode::invalid_argument);
  auto scheduler = Scheduler::create(model);
  REQUIRE(scheduler.ok());
  Scheduler& s = *scheduler.value();
  auto joined = new_session(model), stranger = new_session(model), empty = new_session(model);
  REQUIRE(s.join(*joined, greedy(), request_for(prompt_of(3, 1), 4)).ok());
  auto expect = [](const Status& status, StatusCode code, const char* text) {
    CHECK_MESSAGE(status.code() == code, status.to_string());
    CHECK_MESSAGE(status.message().find(text) != std::string::npos, status.to_string());
  };
  expect(s.join(*joined, greedy(), request_for(prompt_of(3, 1), 4)), StatusCode::invalid_state, "already joined");
  expect(s.leave(*stranger), StatusCode::invalid_argument, "has not joined");
  expect(s.cancel(*stranger), StatusCode::invalid_argument, "has not joined");
  expect(s.progress(*stranger).status(), StatusCode::invalid_argument, "has not joined");
  auto other_model = new_session(load_tiny());
  expect(s.join(*other_model, greedy(), request_for({1}, 4)), StatusCode::invalid_argument, "another model");
  SessionOptions fast;
  fast.numerics = Numerics::fast;
  auto fast_session = new_session(model, fast);
  expect(s.join(*fast_session, greedy(), request_for({1}, 4)), StatusCode::invalid_argument, "other numerics");
  expect(s.join(*stranger, greedy(), request_for({1}, 0)), StatusCode::invalid_argument, "max_tokens is 0");
  expect(s.join(*empty, greedy(), request_for({}, 4)), StatusCode::invalid_argument, "empty prompt");
  expect(s.join(*stranger, greedy(), request_for({1, 1536}, 4)), StatusCode::invalid_token, "index 1");
  SessionOptions small;
  small.context_length = 4;
  auto short_session = new_session(model, small);
  expect(s.join(*short_session, greedy(), request_for(prompt_of(5, 1), 4)), StatusCode::context_overflow,
         "does not fit");
  // None of the refused joins took part: the joined session runs alone.
  CHECK(s.active_sessions() == 1);
  run_to_end(s);
  CHECK(stranger->tokens().empty());
  CHECK(progress_of(s, *joined).tokens == run_alone(model, prompt_of(3, 1), 4, greedy()).generated);
}

TEST_CASE("sessions join, are cancelled and polled from another thread while steps run") {
  const auto model = load_tiny();
  auto scheduler = Scheduler::create(model);
  REQUIRE(scheduler.ok());
  Scheduler& s = *scheduler.value();
  const std::vector<TokenId> p0 = prompt_of(7, 41), p1 = prompt_of(13, 42);
  auto a = new_session(model), b = new_session(model);
  std::atomic<bool> done{false};
  std::thread stepper([&] {
    while (!done.load()) {
      if (!s.step().ok()) break;
    }
  });
  REQUIRE(s.join(*a, greedy(), request_for(p0, 30)).ok());
  REQUIRE(s.join(*b, greedy(), request_for(p1, 2000)).ok());
  wait_for_end(s, *a);
  REQUIRE(s.cancel(*b).ok());
  wait_for_end(s, *b);
  REQUIRE(s.leave(*b).ok());  // waits for a step holding it
  const size_t b_held = b->tokens().size();
  REQUIRE(s.leave(*a).ok());
  done.store(true);
  stepper.join();
  CHECK(b->tokens().size() == b_held);
  CHECK(std::vector<TokenId>(a->tokens().begin(), a->tokens().end()) == run_alone(model, p0, 30, greedy()).tokens);
}

TEST_CASE("a logits processor sees each session's logits before its sample and may change them or fail") {
  const auto model = load_tiny();
  const std::vector<TokenId> prompt = prompt_of(7, 41);
  const Alone alone = run_alone(model, prompt, 6, greedy());
  auto scheduler = Scheduler::create(model);
  REQUIRE(scheduler.ok());
  Scheduler& s = *scheduler.value();
  auto watched = new_session(model), forced = new_session(model), failing = new_session(model);

  // Watching only: the logits it sees are the session's, the tokens those of a run alone.
  GenerationRequest watch = request_for(prompt, 6);
  size_t calls = 0;
  Session* watched_session = watched.get();
  watch.logits_processor = [&calls, watched_session](std::span<float> logits) {
    ++calls;
    CHECK(std::equal(logits.begin(), logits.end(), watched_session->logits().begin(), watched_session->logits().end()));
    return Status::success();
  };
  REQUIRE(s.join(*watched, greedy(), std::move(watch)).ok());

  // Masking every id but one forces greedy sampling onto it.
  GenerationRequest force = request_for(prompt, 5);
  const TokenId only = (alone.generated[0] + 17) % 1536;
  force.logits_processor = [only](std::span<float> logits) {
    for (size_t i = 0; i < logits.size(); ++i)
      if (static_cast<TokenId>(i) != only) logits[i] = -std::numeric_limits<float>::infinity();
    return Status::success();
  };
  REQUIRE(s.join(*forced, greedy(), std::move(force)).ok());

  // The third call fails: the generation ends failed with that status after two tokens.
  GenerationRequest fail = request_for(prompt, 6);
  size_t failing_calls = 0;
  fail.logits_processor = [&failing_calls](std::span<float>) {
    return ++failing_calls < 3 ? Status::success() : Status(StatusCode::out_of_memory, "processor gave up");
  };
  REQUIRE(s.join(*failing, greedy(), std::move(fail)).ok());
  run_to_end(s);

  CHECK(calls == 6);
  CHECK(progress_of(s, *watched).tokens == alone.generated);
  CHECK(progress_of(s, *forced).tokens == std::vector<TokenId>(5, only));
  const GenerationProgress failed = progress_of(s, *failing);
  CHECK(failed.end == GenerationEnd::failed);
  CHECK(failed.status.code() == StatusCode::out_of_memory);
  CHECK(failed.status.message() == "processor gave up");
  CHECK(failed.tokens == std::vector<TokenId>(alone.generated.begin(), alone.generated.begin() + 2));
  CHECK(failing->tokens().size() == prompt.size() + 2);  // both drawn tokens appended, nothing after
}

TEST_CASE("a request that reuses the prefix keeps what the session shares with its prompt and prefills the rest") {
  const auto model = load_tiny();
  const std::vector<TokenId> history = prompt_of(12, 51);
  std::vector<TokenId> next_turn(history.begin(), history.begin() + 9);  // diverges after 9 tokens
  for (TokenId t : prompt_of(5, 52)) next_turn.push_back(t);
  const Alone alone = run_alone(model, next_turn, 6, greedy());
  auto scheduler = Scheduler::create(model);
  REQUIRE(scheduler.ok());
  Scheduler& s = *scheduler.value();

  auto pooled = new_session(model);
  REQUIRE(pooled->append(history).ok());
  GenerationRequest request = request_for(next_turn, 6);
  request.reuse_prefix = true;
  REQUIRE(s.join(*pooled, greedy(), std::move(request)).ok());
  CHECK(pooled->tokens().size() == 9);  // truncated at join
  CHECK(progress_of(s, *pooled).reused_tokens == 9);
  CHECK(progress_of(s, *pooled).prompt_left == 5);
  run_to_end(s);
  CHECK(progress_of(s, *pooled).tokens == alone.generated);
  CHECK(max_difference(pooled->logits(), alone.logits) < 1e-5f);
  REQUIRE(s.leave(*pooled).ok());

  // The same prompt again, held with its logits: nothing is run again.
  auto again = new_session(model);
  REQUIRE(again->append(next_turn).ok());
  GenerationRequest same = request_for(next_turn, 6);
  same.reuse_prefix = true;
  REQUIRE(s.join(*again, greedy(), std::move(same)).ok());
  CHECK(progress_of(s, *again).reused_tokens == next_turn.size());
  run_to_end(s);
  CHECK(progress_of(s, *again).tokens == alone.generated);

  // Refusals leave the session as it was.
  SessionOptions small;
  small.context_length = 20;
  auto full = new_session(model, small);
  REQUIRE(full->append(history).ok());
  GenerationRequest too_long = request_for(prompt_of(21, 53), 2);
  too_long.reuse_prefix = true;
  CHECK(s.join(*full, greedy(), std::move(too_long)).code() == StatusCode::context_overflow);
  GenerationRequest empty = request_for({}, 2);
  empty.reuse_prefix = true;
  CHECK(s.join(*full, greedy(), std::move(empty)).code() == StatusCode::invalid_argument);
  CHECK(full->tokens().size() == history.size());
}
