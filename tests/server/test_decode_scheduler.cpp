// The server's DecodeScheduler on the library scheduler (issue 31): a long
// prompt is prefilled in steps that keep another request decoding, a request
// cancelled during its prefill ends as cancelled, and greedy requests run
// together write what each writes alone. On the tiny full-vocabulary model.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "decode_scheduler.h"
#include "ossrt/model.hpp"

namespace {

using namespace ossrt_server;
using ossrt::TokenId;
using ossrt::harmony::ParseEvent;

std::shared_ptr<const ossrt::Model> load_tiny_chat() {
  auto model = ossrt::Model::load(OSSRT_TINY_CHAT_DIR);
  REQUIRE_MESSAGE(model.ok(), model.status().to_string());
  return model.value();
}

std::unique_ptr<DecodeScheduler> new_scheduler(const std::shared_ptr<const ossrt::Model>& model, size_t max_sessions,
                                               size_t max_step_tokens) {
  auto scheduler = DecodeScheduler::create(model, {}, max_sessions, max_step_tokens);
  REQUIRE_MESSAGE(scheduler.ok(), scheduler.status().to_string());
  return std::move(scheduler.value());
}

// Ordinary text ids of the o200k vocabulary, varied by `seed`.
std::vector<TokenId> prompt_of(size_t n, TokenId seed) {
  std::vector<TokenId> tokens;
  for (size_t i = 0; i < n; ++i) tokens.push_back(static_cast<TokenId>(1000 + (seed * 131 + 37 * i) % 20000));
  return tokens;
}

std::shared_ptr<GenerationStream> submit(DecodeScheduler& scheduler, std::vector<TokenId> prompt, size_t max_tokens) {
  ossrt::SamplerOptions greedy;
  greedy.temperature = 0;
  auto stream = std::make_shared<GenerationStream>();
  scheduler.submit(GenerationJob{std::move(prompt), ossrt::Sampler::create(greedy).value(), max_tokens, stream, {}});
  return stream;
}

std::string describe(const ParseEvent& event) {
  return std::to_string(static_cast<int>(event.kind)) + "/" + event.channel.value_or("") + "/" + event.text;
}

// Takes events until the stream ends (or falls silent for 60 s: a failure,
// not a hang). `first` (if not null) stops at the first event or the end.
std::vector<std::string> collect(GenerationStream& stream, bool first_only = false) {
  std::vector<std::string> seen;
  for (;;) {
    std::vector<ParseEvent> events;
    const GenerationStream::Wait wait = stream.next(events, std::chrono::seconds(60));
    REQUIRE(wait != GenerationStream::Wait::idle);
    for (const ParseEvent& event : events) seen.push_back(describe(event));
    if (wait == GenerationStream::Wait::ended || first_only) return seen;
  }
}

// Whether the stream has ended, taking what it still holds (no waiting).
bool has_ended(GenerationStream& stream) {
  std::vector<ParseEvent> events;
  GenerationStream::Wait wait;
  while ((wait = stream.next(events, std::chrono::milliseconds(0))) == GenerationStream::Wait::events) events.clear();
  return wait == GenerationStream::Wait::ended;
}

}  // namespace

TEST_CASE("greedy requests decoded together write what each writes alone") {
  const auto model = load_tiny_chat();
  const std::vector<std::vector<TokenId>> prompts = {prompt_of(30, 1), prompt_of(55, 2), prompt_of(80, 3)};
  std::vector<std::vector<std::string>> alone;
  std::vector<GenerationOutcome> alone_outcomes;
  for (const auto& prompt : prompts) {
    auto scheduler = new_scheduler(model, 1, 64);
    auto stream = submit(*scheduler, prompt, 12);
    alone.push_back(collect(*stream));
    alone_outcomes.push_back(stream->outcome());
  }
  // Together, in small steps: each prompt spreads over several steps beside the others' decodes.
  auto scheduler = new_scheduler(model, 3, 8);
  std::vector<std::shared_ptr<GenerationStream>> streams;
  for (const auto& prompt : prompts) streams.push_back(submit(*scheduler, prompt, 12));
  for (size_t i = 0; i < prompts.size(); ++i) {
    CAPTURE(i);
    CHECK(collect(*streams[i]) == alone[i]);
    const GenerationOutcome& outcome = streams[i]->outcome();
    REQUIRE(outcome.status.ok());
    CHECK(outcome.completion_tokens == alone_outcomes[i].completion_tokens);
    CHECK(outcome.finish_reason == alone_outcomes[i].finish_reason);
    CHECK(outcome.prompt_tokens == prompts[i].size());
  }
  CHECK(scheduler->counts().finished == 3);
}

TEST_CASE("a long prompt prefills in steps while another request keeps decoding") {
  const auto model = load_tiny_chat();
  auto scheduler = new_scheduler(model, 2, 8);
  // `decoding` needs under 10 steps; `long_prompt` 400 / 7 prompt tokens a step beside it.
  auto decoding = submit(*scheduler, prompt_of(12, 4), 6);
  auto long_prompt = submit(*scheduler, prompt_of(400, 5), 4);
  collect(*long_prompt, true);
  // Its first event (or its end) came after every token of the other: that
  // one ended first, all 6 tokens sampled during the long prompt's prefill.
  CHECK(has_ended(*decoding));
  CHECK(decoding->outcome().completion_tokens == 6);
  CHECK(decoding->outcome().finish_reason == FinishReason::length);
  collect(*long_prompt);
  CHECK(long_prompt->outcome().completion_tokens == 4);
  CHECK(scheduler->counts().finished == 2);
}

TEST_CASE("a request cancelled during its prefill ends as cancelled; its session keeps what was prefilled") {
  const auto model = load_tiny_chat();
  auto scheduler = new_scheduler(model, 1, 4);
  const std::vector<TokenId> prompt = prompt_of(1500, 6);
  auto stream = submit(*scheduler, prompt, 8);
  // Joined and prefilling (375 steps of 4 tokens), then its client goes.
  for (int i = 0; i < 60000 && scheduler->counts().prefilling == 0 && !has_ended(*stream); ++i)
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  stream->cancel();
  collect(*stream);
  const GenerationOutcome& outcome = stream->outcome();
  CHECK(outcome.finish_reason == FinishReason::cancelled);
  CHECK(outcome.prompt_tokens == prompt.size());  // it had joined: a queued job says 0
  CHECK(outcome.completion_tokens == 0);
  const DecodeScheduler::Counts counts = scheduler->counts();
  CHECK(counts.cancelled == 1);
  CHECK(counts.finished == 0);
  CHECK(counts.running == 0);
  CHECK(counts.prefilling == 0);

  // The same prompt again reuses the part prefilled before the cancel.
  auto again = submit(*scheduler, prompt, 3);
  collect(*again);
  CHECK(again->outcome().status.ok());
  CHECK(again->outcome().cached_tokens > 0);
  CHECK(again->outcome().cached_tokens < prompt.size());
  CHECK(again->outcome().completion_tokens == 3);
  CHECK(scheduler->counts().finished == 1);
}

TEST_CASE("the first request takes the session opened at startup; a conversation's next turn, its own again") {
  const auto model = load_tiny_chat();
  auto scheduler = new_scheduler(model, 4, 0);
  CHECK(scheduler->counts().sessions == 1);
  const std::vector<TokenId> first = prompt_of(20, 4);
  auto stream = submit(*scheduler, first, 3);
  collect(*stream);
  CHECK(scheduler->counts().sessions == 1);
  // Another conversation opens a session, keeping the first one's cache.
  stream = submit(*scheduler, prompt_of(20, 5), 3);
  collect(*stream);
  CHECK(scheduler->counts().sessions == 2);
  // The first conversation continued reuses its session's prefix.
  std::vector<TokenId> next = first;
  next.push_back(1234);
  stream = submit(*scheduler, next, 3);
  collect(*stream);
  CHECK(stream->outcome().cached_tokens >= first.size() - 1);
  CHECK(scheduler->counts().sessions == 2);
}
