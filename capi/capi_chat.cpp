// ossrt_chat_*: translation to ossrt::chat_turn.
#include "capi_common.h"

using namespace ossrt;

namespace {

// ossrt_chat_options.reasoning_effort, deprecated: old callers set the effort
// per turn. It replaces the system message's effort for the turn only, as it
// always did (the conversation keeps its own), and does nothing without one.
class TurnEffortOverride {
 public:
  TurnEffortOverride(harmony::Conversation& conversation, int32_t effort) noexcept : conversation_(conversation) {
    harmony::SystemContent* system = effort >= 0 ? harmony::system_content(conversation) : nullptr;
    if (system == nullptr) return;
    saved_ = system->reasoning_effort;
    system->reasoning_effort = static_cast<harmony::ReasoningEffort>(effort);
    active_ = true;
  }
  // Found again: the turn appends messages, which may move the system message.
  ~TurnEffortOverride() {
    if (active_) harmony::system_content(conversation_)->reasoning_effort = saved_;
  }
  TurnEffortOverride(const TurnEffortOverride&) = delete;
  TurnEffortOverride& operator=(const TurnEffortOverride&) = delete;

 private:
  harmony::Conversation& conversation_;
  std::optional<harmony::ReasoningEffort> saved_;
  bool active_ = false;
};

const char* c_string_or_null(const std::string& text) {
  return text.empty() ? nullptr : text.c_str();
}

}  // namespace

extern "C" {

void ossrt_chat_options_init(ossrt_chat_options* options) {
  if (options == nullptr) return;
  const ChatOptions defaults;
  *options = ossrt_chat_options{};
  options->struct_size = sizeof(ossrt_chat_options);
  options->reasoning_effort = -1;
  options->max_tokens = defaults.max_tokens;
  options->reasoning_budget = defaults.reasoning_budget;
  options->auto_drop_analysis = defaults.render.auto_drop_analysis ? 1 : 0;
}

void ossrt_chat_result_init(ossrt_chat_result* result) {
  capi::init_output(result);
}

const char* ossrt_finish_reason_string(ossrt_finish_reason reason) {
  if (reason < OSSRT_FINISH_STOP || reason > OSSRT_FINISH_CONTEXT_FULL) return "unknown_finish_reason";
  return finish_reason_name(static_cast<FinishReason>(reason));
}

ossrt_status ossrt_chat_turn(ossrt_session* session, ossrt_conversation* conversation, const ossrt_sampler* sampler,
                             const ossrt_chat_options* options, ossrt_chat_result* result) {
  capi::SessionClaim claim(session, "ossrt_chat_turn");
  if (!claim.ok()) return claim.status();
  if (!capi::live(conversation) || !capi::live(sampler)) {
    return capi::invalid_argument("ossrt_chat_turn: conversation or sampler is NULL or released");
  }
  // Every caller reads finish_reason at least.
  if (ossrt_status st = capi::check_output(result, "ossrt_chat_turn", "result", 2); st != OSSRT_STATUS_OK) return st;
  if (ossrt_status st = capi::check_options(options, "ossrt_chat_turn"); st != OSSRT_STATUS_OK) return st;
  return capi::barrier("ossrt_chat_turn", [&] {
    ossrt_chat_options defaults;
    ossrt_chat_options_init(&defaults);
    const ossrt_chat_options o = capi::read_versioned(options, defaults);
    if (o.reasoning_effort < -1 || o.reasoning_effort > OSSRT_EFFORT_HIGH) {
      return capi::invalid_argument("ossrt_chat_turn: reasoning_effort is not -1 or an OSSRT_EFFORT_* value");
    }
    if (o.extra_stop_tokens == nullptr && o.n_extra_stop_tokens > 0) {
      return capi::invalid_argument("ossrt_chat_turn: extra_stop_tokens is NULL");
    }
    if (o.strict_tools == nullptr && o.n_strict_tools > 0) {
      return capi::invalid_argument("ossrt_chat_turn: strict_tools is NULL");
    }
    ChatOptions cpp;
    if (o.response_format != nullptr) cpp.response_format_schema = o.response_format;
    if (o.response_format_name != nullptr) cpp.response_format_name = o.response_format_name;
    for (size_t i = 0; i < o.n_strict_tools; ++i) {
      if (o.strict_tools[i] == nullptr) return capi::invalid_argument("ossrt_chat_turn: strict_tools[i] is NULL");
      cpp.strict_tools.emplace_back(o.strict_tools[i]);
    }
    cpp.max_tokens = static_cast<size_t>(o.max_tokens);
    cpp.reasoning_budget = static_cast<size_t>(o.reasoning_budget);
    cpp.extra_stop_tokens.assign(o.extra_stop_tokens, o.extra_stop_tokens + o.n_extra_stop_tokens);
    cpp.render.auto_drop_analysis = o.auto_drop_analysis != 0;
    if (o.on_event != nullptr) {
      cpp.on_event = [callback = o.on_event, user_data = o.on_event_user_data](const harmony::ParseEvent& event) {
        const ossrt_harmony_event c = capi::c_event(event);
        return callback(&c, user_data) == 0;
      };
    }
    auto renderer = harmony::Renderer::create();
    if (!renderer.ok()) return capi::report(renderer.status());
    auto turn = [&] {
      const TurnEffortOverride effort(conversation->messages, o.reasoning_effort);
      return chat_turn(*session->session, renderer.value(), conversation->messages, sampler->sampler, cpp);
    }();
    if (!turn.ok()) return capi::report(turn.status());
    ChatTurn& t = turn.value();
    session->last_tool_call = t.tool_call ? std::move(*t.tool_call) : harmony::ToolCall{};
    ossrt_chat_result out{};
    out.struct_size = sizeof(ossrt_chat_result);
    out.finish_reason = static_cast<ossrt_finish_reason>(t.finish_reason);
    out.prompt_tokens = t.prompt_tokens;
    out.reused_tokens = t.reused_tokens;
    out.generated_tokens = t.generated_tokens;
    out.reasoning_tokens = t.reasoning_tokens;
    out.messages_appended = t.messages.size();
    out.anomalies = t.anomalies.size();
    out.constrained_tokens = t.constrained_tokens;
    if (t.tool_call) {
      const harmony::ToolCall& call = session->last_tool_call;
      out.tool_call_recipient = call.recipient.c_str();
      out.tool_call_arguments = call.arguments.c_str();
      out.tool_call_arguments_len = call.arguments.size();
      // The parser never yields an empty channel or content type: "" means absent.
      out.tool_call_channel = c_string_or_null(call.channel);
      out.tool_call_content_type = c_string_or_null(call.content_type);
    }
    capi::copy_versioned(out, result);
    return capi::report(Status::success());
  });
}

}  // extern "C"
