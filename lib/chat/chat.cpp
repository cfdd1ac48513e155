// One harmony assistant turn: render, reuse the cache, sample, parse, append.
#include "ossrt/chat.hpp"

#include <algorithm>

#include "constrain/compiled_cache.h"
#include "constrain/harmony_scope.h"
#include "model/session_impl.h"
#include "util/errors.h"

namespace ossrt {
namespace {

using namespace harmony;

bool contains(std::span<const TokenId> ids, TokenId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// The conversation as the model should see it: with the response format at
// the end of the first developer message (a new one after the leading
// system messages when there is none), unless it lists a format of that
// name already (the caller wrote it there).
Conversation with_response_format(const Conversation& conversation, ResponseFormat format) {
  Conversation shown = conversation;
  for (Message& message : shown)
    for (Content& item : message.content)
      if (auto* developer = std::get_if<DeveloperContent>(&item); developer && message.author.role == Role::developer) {
        const auto& listed = developer->response_formats;
        if (std::none_of(listed.begin(), listed.end(), [&](const ResponseFormat& f) { return f.name == format.name; }))
          developer->with_response_format(std::move(format));
        return shown;
      }
  auto after_system = std::find_if(shown.begin(), shown.end(),
                                   [](const Message& message) { return message.author.role != Role::system; });
  shown.insert(after_system,
               Message::from_role_and_content(Role::developer, DeveloperContent{}.with_response_format(format)));
  return shown;
}

const ToolDescription* find_function_tool(const Conversation& conversation, std::string_view name) {
  for (const Message& message : conversation)
    for (const Content& item : message.content)
      if (const auto* developer = std::get_if<DeveloperContent>(&item); developer && developer->tools) {
        auto functions = developer->tools->find("functions");
        if (functions == developer->tools->end()) continue;
        for (const ToolDescription& tool : functions->second.tools)
          if (tool.name == name) return &tool;
      }
  return nullptr;
}

// A schema's grammar (cached by its text); a failure names what the schema is for.
Result<std::shared_ptr<const constrain::Grammar>> labelled_grammar(std::string_view schema, const std::string& label) {
  auto grammar = constrain::cached_grammar(schema);
  if (!grammar.ok()) return Status(grammar.status().code(), label + ": " + grammar.status().message());
  return grammar;
}

Result<std::shared_ptr<const constrain::Grammar>> response_format_grammar(std::string_view schema) {
  return labelled_grammar(schema, "response_format");
}

// The grammars of the turn's response format and strict tools.
Result<constrain::ScopeGrammars> scope_grammars(const Conversation& conversation, const ChatOptions& options) {
  constrain::ScopeGrammars grammars;
  if (!options.response_format_schema.empty()) {
    auto grammar = response_format_grammar(options.response_format_schema);
    if (!grammar.ok()) return grammar.status();
    grammars.response_format = grammar.value();
  }
  for (const std::string& name : options.strict_tools) {
    const ToolDescription* tool = find_function_tool(conversation, name);
    if (tool == nullptr)
      return error(StatusCode::invalid_argument,
                   "strict tool '%s' is not a function tool of the conversation's developer message", name.c_str());
    // A tool without parameters takes an empty object.
    const std::string schema = tool->parameters ? tool->parameters->dump() : std::string("{\"type\":\"object\"}");
    auto grammar = labelled_grammar(schema, "strict tool '" + name + "' parameters");
    if (!grammar.ok()) return grammar.status();
    grammars.strict_tools["functions." + name] = grammar.value();
  }
  return grammars;
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

Status check_response_format(std::string_view schema) noexcept {
  return guard("check_response_format", [&]() -> Status { return response_format_grammar(schema).status(); });
}

Result<ChatTurn> chat_turn(Session& session, const Renderer& renderer, Conversation& conversation,
                           const Sampler& sampler, const ChatOptions& options) noexcept {
  return guard("chat_turn", [&]() -> Result<ChatTurn> {
    const Tokenizer& tokenizer = *renderer.tokenizer();
    if (static_cast<size_t>(session.model().info().config.vocab_size) < tokenizer.vocab_size())
      return error(StatusCode::invalid_argument,
                   "chat_turn: the model's vocabulary (%lld ids) cannot hold harmony's special tokens (up to %zu)",
                   static_cast<long long>(session.model().info().config.vocab_size), tokenizer.vocab_size());
    auto grammars = scope_grammars(conversation, options);
    if (!grammars.ok()) return grammars.status();
    std::optional<constrain::HarmonyScope> scope;
    if (!grammars.value().empty()) {
      auto vocabulary = constrain::cached_vocabulary(renderer.tokenizer());
      if (!vocabulary.ok()) return vocabulary.status();
      scope.emplace(vocabulary.value(), std::move(grammars).value(), tokenizer.special_id(SpecialToken::return_),
                    tokenizer.special_id(SpecialToken::call));
    }
    Result<std::vector<TokenId>> prompt = std::vector<TokenId>();
    if (options.response_format_schema.empty()) {
      prompt = renderer.render_conversation_for_completion(conversation, Role::assistant, options.render);
    } else {
      // Compiled above, so the text is JSON; the parser's depth limit may still refuse it.
      auto schema = JsonValue::parse(options.response_format_schema);
      if (!schema.ok()) return Status(schema.status().code(), "response_format: " + schema.status().message());
      const Conversation shown = with_response_format(
          conversation, ResponseFormat{options.response_format_name, std::nullopt, std::move(schema).value()});
      prompt = renderer.render_conversation_for_completion(shown, Role::assistant, options.render);
    }
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
      std::span<const float> logits = session.logits();
      if (scope && scope->constrained()) {
        logits = scope->masked(logits);
        ++turn.constrained_tokens;
      }
      auto next = sampler.sample(logits, session.tokens(), session.tokens().size());
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
      if (scope) scope->observe(one[0], parser.state(), events);
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
    turn.messages = parser.take_messages();
    if (turn.finish_reason == FinishReason::tool_call && !turn.messages.empty())
      turn.tool_call = as_tool_call(turn.messages.back());
    conversation.insert(conversation.end(), turn.messages.begin(), turn.messages.end());
    return turn;
  });
}

}  // namespace ossrt
