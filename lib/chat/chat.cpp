// One harmony assistant turn: render, reuse the cache, sample, parse, append.
#include "ossrt/chat.hpp"

#include <algorithm>

#include "model/session_impl.h"
#include "ossrt/chat_constraint.hpp"
#include "util/errors.h"

namespace ossrt {
namespace {

using namespace harmony;

bool contains(std::span<const TokenId> ids, TokenId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

const char* finish_reason_name(FinishReason reason) noexcept {
  switch (reason) {
    case FinishReason::stop:
      return "stop";
    case FinishReason::tool_call:
      return "tool_call";
    case FinishReason::length:
      return "length";
    case FinishReason::reasoning_budget:
      return "reasoning_budget";
    case FinishReason::cancelled:
      return "cancelled";
    case FinishReason::context_full:
      return "context_full";
  }
  return "stop";
}

Result<ChatTurn> chat_turn(Session& session, const Renderer& renderer, Conversation& conversation,
                           const Sampler& sampler, const ChatOptions& options) noexcept {
  return guard("chat_turn", [&]() -> Result<ChatTurn> {
    const Tokenizer& tokenizer = *renderer.tokenizer();
    if (static_cast<size_t>(session.model().info().config.vocab_size) < tokenizer.vocab_size())
      return error(StatusCode::invalid_argument,
                   "chat_turn: the model's vocabulary (%lld ids) cannot hold harmony's special tokens (up to %zu)",
                   static_cast<long long>(session.model().info().config.vocab_size), tokenizer.vocab_size());
    auto constraint =
        ChatConstraint::create(renderer, conversation, options.response_format_schema, options.strict_tools);
    if (!constraint.ok()) return constraint.status();
    auto prompt = render_chat_prompt(renderer, conversation, options);
    if (!prompt.ok()) return prompt.status();
    // The turn is one call: a cancel anywhere in it (prefill, a decode step,
    // between steps) ends it. The public append would clear the flag per token.
    auto& s = SessionAccess::impl(session);  // Session::Impl is private: not named here
    s.cancel_requested.store(false);
    ChatTurn turn;
    turn.prompt_tokens = prompt.value().size();
    if (turn.prompt_tokens > session.context_length()) {
      turn.finish_reason = FinishReason::context_full;
      return turn;
    }
    auto reused = s.sync_prefix(prompt.value());
    if (!reused.ok()) {
      if (reused.status().code() != StatusCode::cancelled) return reused.status();
      turn.finish_reason = FinishReason::cancelled;
      return turn;
    }
    turn.reused_tokens = reused.value();

    const std::vector<TokenId> action_stops = renderer.stop_tokens_for_assistant_actions();
    const TokenId call_id = tokenizer.special_id(SpecialToken::call);
    StreamParser parser(renderer.tokenizer(), Role::assistant, ParseMode::lenient);
    std::vector<ParseEvent> events;
    bool listener_stopped = false;
    auto deliver = [&] {
      for (const ParseEvent& event : events) {
        if (event.kind == ParseEvent::Kind::anomaly) turn.anomalies.push_back(event);
        if (options.on_event && !listener_stopped && !options.on_event(event)) listener_stopped = true;
      }
      events.clear();
    };
    std::optional<FinishReason> finish;
    while (!finish) {
      if (turn.generated_tokens >= options.max_tokens) {
        finish = FinishReason::length;
        break;
      }
      if (options.reasoning_budget > 0 && turn.reasoning_tokens >= options.reasoning_budget) {
        finish = FinishReason::reasoning_budget;
        break;
      }
      if (session.tokens().size() >= session.context_length()) {
        finish = FinishReason::context_full;
        break;
      }
      if (s.cancel_requested.load()) {
        finish = FinishReason::cancelled;
        break;
      }
      auto logits = constraint.value().masked(session.logits());
      if (!logits.ok()) return logits.status();
      auto next = sampler.sample(logits.value(), session.tokens(), session.tokens().size());
      if (!next.ok()) return next.status();
      const TokenId one[1] = {next.value()};
      const bool in_analysis = parser.state() == ParserState::content && parser.current_channel() == "analysis";
      if (Status st = s.append(one, nullptr); !st.ok()) {
        if (st.code() == StatusCode::cancelled) {
          finish = FinishReason::cancelled;
          break;
        }
        if (st.code() == StatusCode::context_overflow) {
          finish = FinishReason::context_full;
          break;
        }
        return st;
      }
      ++turn.generated_tokens;
      turn.reasoning_tokens += in_analysis;
      if (Status st = parser.push(one[0], &events); !st.ok()) return st;
      if (Status st = constraint.value().observe(one[0], parser.state(), events); !st.ok()) return st;
      deliver();
      if (contains(action_stops, one[0]))
        finish = one[0] == call_id ? FinishReason::tool_call : FinishReason::stop;
      else if (contains(options.extra_stop_tokens, one[0]))
        finish = FinishReason::stop;
      else if (listener_stopped)
        finish = FinishReason::cancelled;
    }
    if (Status st = parser.finish(&events); !st.ok()) return st;
    deliver();
    turn.finish_reason = *finish;
    turn.constrained_tokens = constraint.value().constrained_tokens();
    turn.messages = parser.take_messages();
    if (turn.finish_reason == FinishReason::tool_call && !turn.messages.empty())
      turn.tool_call = as_tool_call(turn.messages.back());
    conversation.insert(conversation.end(), turn.messages.begin(), turn.messages.end());
    return turn;
  });
}

}  // namespace ossrt
