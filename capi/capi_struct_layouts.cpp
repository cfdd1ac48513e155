// The field layout of every C option and output struct, for
// check_struct_size: a caller's struct_size must not end inside a field.
// Append a line here when a field is appended to a struct (a static_assert
// compares each table's end with sizeof).
#include <algorithm>
#include <cstddef>
#include <cstdio>

#include "capi_common.h"

#define OSSRT_FIELD(T, f)                             \
  FieldSpan {                                         \
    offsetof(T, f), offsetof(T, f) + sizeof(T::f), #f \
  }

namespace ossrt::capi {

namespace {

// Whether a table's last field ends where T does, up to tail padding: a
// field appended to T but not to its table fails this at compile time.
template <class T, size_t N>
constexpr bool lists_every_field(const FieldSpan (&fields)[N]) {
  return fields[N - 1].end <= sizeof(T) && sizeof(T) - fields[N - 1].end < 8;
}

}  // namespace

std::span<const FieldSpan> fields_of(const ossrt_model_options*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_model_options, struct_size),       OSSRT_FIELD(ossrt_model_options, backend),
      OSSRT_FIELD(ossrt_model_options, runtime),           OSSRT_FIELD(ossrt_model_options, preload),
      OSSRT_FIELD(ossrt_model_options, progress),          OSSRT_FIELD(ossrt_model_options, progress_user_data),
      OSSRT_FIELD(ossrt_model_options, weights_in_memory), OSSRT_FIELD(ossrt_model_options, validate_weights),
      OSSRT_FIELD(ossrt_model_options, cpu_expert_layers), OSSRT_FIELD(ossrt_model_options, memory_budget_bytes),
  };
  static_assert(lists_every_field<ossrt_model_options>(fields),
                "a field was appended to ossrt_model_options: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_session_options*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_session_options, struct_size),
      OSSRT_FIELD(ossrt_session_options, context_length),
      OSSRT_FIELD(ossrt_session_options, max_batch_tokens),
      OSSRT_FIELD(ossrt_session_options, prefill_progress),
      OSSRT_FIELD(ossrt_session_options, prefill_progress_user_data),
      OSSRT_FIELD(ossrt_session_options, rewind_tokens),
      OSSRT_FIELD(ossrt_session_options, threads),
      OSSRT_FIELD(ossrt_session_options, numerics),
  };
  static_assert(lists_every_field<ossrt_session_options>(fields),
                "a field was appended to ossrt_session_options: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_sampler_options*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_sampler_options, struct_size),
      OSSRT_FIELD(ossrt_sampler_options, temperature),
      OSSRT_FIELD(ossrt_sampler_options, top_k),
      OSSRT_FIELD(ossrt_sampler_options, top_p),
      OSSRT_FIELD(ossrt_sampler_options, min_p),
      OSSRT_FIELD(ossrt_sampler_options, repetition_penalty),
      OSSRT_FIELD(ossrt_sampler_options, presence_penalty),
      OSSRT_FIELD(ossrt_sampler_options, frequency_penalty),
      OSSRT_FIELD(ossrt_sampler_options, penalty_last_n),
      OSSRT_FIELD(ossrt_sampler_options, bias_ids),
      OSSRT_FIELD(ossrt_sampler_options, bias_values),
      OSSRT_FIELD(ossrt_sampler_options, n_bias),
      OSSRT_FIELD(ossrt_sampler_options, seed),
  };
  static_assert(lists_every_field<ossrt_sampler_options>(fields),
                "a field was appended to ossrt_sampler_options: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_encode_options*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_encode_options, struct_size), OSSRT_FIELD(ossrt_encode_options, specials),
      OSSRT_FIELD(ossrt_encode_options, allowed_ids), OSSRT_FIELD(ossrt_encode_options, n_allowed),
      OSSRT_FIELD(ossrt_encode_options, raw_bytes),
  };
  static_assert(lists_every_field<ossrt_encode_options>(fields),
                "a field was appended to ossrt_encode_options: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_system_options*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_system_options, struct_size),
      OSSRT_FIELD(ossrt_system_options, model_identity),
      OSSRT_FIELD(ossrt_system_options, reasoning_effort),
      OSSRT_FIELD(ossrt_system_options, knowledge_cutoff),
      OSSRT_FIELD(ossrt_system_options, conversation_start_date),
      OSSRT_FIELD(ossrt_system_options, browser_tool),
      OSSRT_FIELD(ossrt_system_options, python_tool),
  };
  static_assert(lists_every_field<ossrt_system_options>(fields),
                "a field was appended to ossrt_system_options: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_render_options*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_render_options, struct_size),
      OSSRT_FIELD(ossrt_render_options, kind),
      OSSRT_FIELD(ossrt_render_options, next_role),
      OSSRT_FIELD(ossrt_render_options, auto_drop_analysis),
  };
  static_assert(lists_every_field<ossrt_render_options>(fields),
                "a field was appended to ossrt_render_options: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_chat_options*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_chat_options, struct_size),          OSSRT_FIELD(ossrt_chat_options, reasoning_effort),
      OSSRT_FIELD(ossrt_chat_options, max_tokens),           OSSRT_FIELD(ossrt_chat_options, reasoning_budget),
      OSSRT_FIELD(ossrt_chat_options, extra_stop_tokens),    OSSRT_FIELD(ossrt_chat_options, n_extra_stop_tokens),
      OSSRT_FIELD(ossrt_chat_options, auto_drop_analysis),   OSSRT_FIELD(ossrt_chat_options, on_event),
      OSSRT_FIELD(ossrt_chat_options, on_event_user_data),   OSSRT_FIELD(ossrt_chat_options, response_format),
      OSSRT_FIELD(ossrt_chat_options, response_format_name), OSSRT_FIELD(ossrt_chat_options, strict_tools),
      OSSRT_FIELD(ossrt_chat_options, n_strict_tools),
  };
  static_assert(lists_every_field<ossrt_chat_options>(fields),
                "a field was appended to ossrt_chat_options: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_memory_estimate*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_memory_estimate, struct_size),
      OSSRT_FIELD(ossrt_memory_estimate, weight_bytes),
      OSSRT_FIELD(ossrt_memory_estimate, backend_weight_bytes),
      OSSRT_FIELD(ossrt_memory_estimate, host_weight_bytes),
      OSSRT_FIELD(ossrt_memory_estimate, kv_bytes_per_token),
      OSSRT_FIELD(ossrt_memory_estimate, kv_ring_bytes),
      OSSRT_FIELD(ossrt_memory_estimate, kv_bytes),
      OSSRT_FIELD(ossrt_memory_estimate, scratch_bytes),
      OSSRT_FIELD(ossrt_memory_estimate, session_bytes),
      OSSRT_FIELD(ossrt_memory_estimate, backend_bytes),
      OSSRT_FIELD(ossrt_memory_estimate, total_bytes),
  };
  static_assert(lists_every_field<ossrt_memory_estimate>(fields),
                "a field was appended to ossrt_memory_estimate: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_device_info*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_device_info, struct_size), OSSRT_FIELD(ossrt_device_info, backend),
      OSSRT_FIELD(ossrt_device_info, description), OSSRT_FIELD(ossrt_device_info, memory_bytes),
      OSSRT_FIELD(ossrt_device_info, free_bytes),
  };
  static_assert(lists_every_field<ossrt_device_info>(fields),
                "a field was appended to ossrt_device_info: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_model_info*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_model_info, struct_size),
      OSSRT_FIELD(ossrt_model_info, num_hidden_layers),
      OSSRT_FIELD(ossrt_model_info, num_experts),
      OSSRT_FIELD(ossrt_model_info, experts_per_token),
      OSSRT_FIELD(ossrt_model_info, vocab_size),
      OSSRT_FIELD(ossrt_model_info, hidden_size),
      OSSRT_FIELD(ossrt_model_info, intermediate_size),
      OSSRT_FIELD(ossrt_model_info, head_dim),
      OSSRT_FIELD(ossrt_model_info, num_attention_heads),
      OSSRT_FIELD(ossrt_model_info, num_key_value_heads),
      OSSRT_FIELD(ossrt_model_info, sliding_window),
      OSSRT_FIELD(ossrt_model_info, max_context_length),
      OSSRT_FIELD(ossrt_model_info, parameter_count),
      OSSRT_FIELD(ossrt_model_info, weight_bytes),
      OSSRT_FIELD(ossrt_model_info, cpu_expert_layers),
      OSSRT_FIELD(ossrt_model_info, host_expert_bytes),
      OSSRT_FIELD(ossrt_model_info, layout),
      OSSRT_FIELD(ossrt_model_info, dense_format),
      OSSRT_FIELD(ossrt_model_info, converted_bytes),
      OSSRT_FIELD(ossrt_model_info, tiled_expert_matrices),
  };
  static_assert(lists_every_field<ossrt_model_info>(fields), "a field was appended to ossrt_model_info: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_session_memory*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_session_memory, struct_size),    OSSRT_FIELD(ossrt_session_memory, kv_cache_bytes),
      OSSRT_FIELD(ossrt_session_memory, scratch_bytes),  OSSRT_FIELD(ossrt_session_memory, logits_bytes),
      OSSRT_FIELD(ossrt_session_memory, context_length),
  };
  static_assert(lists_every_field<ossrt_session_memory>(fields),
                "a field was appended to ossrt_session_memory: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_harmony_event*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_harmony_event, struct_size),  OSSRT_FIELD(ossrt_harmony_event, kind),
      OSSRT_FIELD(ossrt_harmony_event, position),     OSSRT_FIELD(ossrt_harmony_event, message_index),
      OSSRT_FIELD(ossrt_harmony_event, role),         OSSRT_FIELD(ossrt_harmony_event, name),
      OSSRT_FIELD(ossrt_harmony_event, channel),      OSSRT_FIELD(ossrt_harmony_event, recipient),
      OSSRT_FIELD(ossrt_harmony_event, content_type), OSSRT_FIELD(ossrt_harmony_event, text),
      OSSRT_FIELD(ossrt_harmony_event, text_len),     OSSRT_FIELD(ossrt_harmony_event, anomaly),
  };
  static_assert(lists_every_field<ossrt_harmony_event>(fields),
                "a field was appended to ossrt_harmony_event: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_chat_result*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_chat_result, struct_size),
      OSSRT_FIELD(ossrt_chat_result, finish_reason),
      OSSRT_FIELD(ossrt_chat_result, prompt_tokens),
      OSSRT_FIELD(ossrt_chat_result, reused_tokens),
      OSSRT_FIELD(ossrt_chat_result, generated_tokens),
      OSSRT_FIELD(ossrt_chat_result, reasoning_tokens),
      OSSRT_FIELD(ossrt_chat_result, messages_appended),
      OSSRT_FIELD(ossrt_chat_result, anomalies),
      OSSRT_FIELD(ossrt_chat_result, tool_call_recipient),
      OSSRT_FIELD(ossrt_chat_result, tool_call_arguments),
      OSSRT_FIELD(ossrt_chat_result, tool_call_arguments_len),
      OSSRT_FIELD(ossrt_chat_result, tool_call_channel),
      OSSRT_FIELD(ossrt_chat_result, tool_call_content_type),
      OSSRT_FIELD(ossrt_chat_result, constrained_tokens),
  };
  static_assert(lists_every_field<ossrt_chat_result>(fields),
                "a field was appended to ossrt_chat_result: list it here");
  return fields;
}

ossrt_status check_struct_size(const char* where, const char* argument, uint32_t struct_size,
                               std::span<const FieldSpan> fields, size_t required) noexcept {
  char message[256];
  if (struct_size < sizeof(uint32_t)) {
    std::snprintf(message, sizeof message,
                  "%s: %s->struct_size is %u, too small to hold struct_size itself (initialise the struct with "
                  "its _init function)",
                  where, argument, struct_size);
    return invalid_argument(message);
  }
  const FieldSpan& last_required = fields[std::min(required, fields.size()) - 1];
  if (struct_size < last_required.end) {
    std::snprintf(message, sizeof message,
                  "%s: %s->struct_size %u has no room for field '%s' (bytes %zu to %zu; initialise the struct "
                  "with its _init function)",
                  where, argument, struct_size, last_required.name, last_required.begin, last_required.end);
    return invalid_argument(message);
  }
  for (const FieldSpan& field : fields) {
    if (struct_size > field.begin && struct_size < field.end) {
      std::snprintf(message, sizeof message,
                    "%s: %s->struct_size %u ends inside field '%s' (bytes %zu to %zu): not the size of any "
                    "version of the struct (initialise it with its _init function)",
                    where, argument, struct_size, field.name, field.begin, field.end);
      return invalid_argument(message);
    }
  }
  return OSSRT_STATUS_OK;
}

std::span<const FieldSpan> fields_of(const ossrt_scheduler_options*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_scheduler_options, struct_size),
      OSSRT_FIELD(ossrt_scheduler_options, max_sessions),
      OSSRT_FIELD(ossrt_scheduler_options, max_step_tokens),
  };
  static_assert(lists_every_field<ossrt_scheduler_options>(fields),
                "a field was appended to ossrt_scheduler_options: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_generation_request*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_generation_request, struct_size),
      OSSRT_FIELD(ossrt_generation_request, prompt),
      OSSRT_FIELD(ossrt_generation_request, n_prompt),
      OSSRT_FIELD(ossrt_generation_request, sampler),
      OSSRT_FIELD(ossrt_generation_request, max_tokens),
      OSSRT_FIELD(ossrt_generation_request, stop_tokens),
      OSSRT_FIELD(ossrt_generation_request, n_stop_tokens),
      OSSRT_FIELD(ossrt_generation_request, on_token),
      OSSRT_FIELD(ossrt_generation_request, on_token_user_data),
      OSSRT_FIELD(ossrt_generation_request, logits_processor),
      OSSRT_FIELD(ossrt_generation_request, logits_processor_user_data),
      OSSRT_FIELD(ossrt_generation_request, reuse_prefix),
  };
  static_assert(lists_every_field<ossrt_generation_request>(fields),
                "a field was appended to ossrt_generation_request: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_generation_progress*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_generation_progress, struct_size), OSSRT_FIELD(ossrt_generation_progress, end),
      OSSRT_FIELD(ossrt_generation_progress, status),      OSSRT_FIELD(ossrt_generation_progress, prompt_left),
      OSSRT_FIELD(ossrt_generation_progress, n_tokens),    OSSRT_FIELD(ossrt_generation_progress, reused_tokens),
  };
  static_assert(lists_every_field<ossrt_generation_progress>(fields),
                "a field was appended to ossrt_generation_progress: list it here");
  return fields;
}

std::span<const FieldSpan> fields_of(const ossrt_step_report*) noexcept {
  static constexpr FieldSpan fields[] = {
      OSSRT_FIELD(ossrt_step_report, struct_size),
      OSSRT_FIELD(ossrt_step_report, decode_tokens),
      OSSRT_FIELD(ossrt_step_report, prompt_tokens),
      OSSRT_FIELD(ossrt_step_report, sessions_ended),
  };
  static_assert(lists_every_field<ossrt_step_report>(fields),
                "a field was appended to ossrt_step_report: list it here");
  return fields;
}

}  // namespace ossrt::capi
