// The field layout of every C option struct, for check_struct_size: a
// caller's struct_size must not end inside a field. Append a line here when a
// field is appended to a struct (a test compares each table's end with sizeof).
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
      OSSRT_FIELD(ossrt_chat_options, struct_size),        OSSRT_FIELD(ossrt_chat_options, reasoning_effort),
      OSSRT_FIELD(ossrt_chat_options, max_tokens),         OSSRT_FIELD(ossrt_chat_options, reasoning_budget),
      OSSRT_FIELD(ossrt_chat_options, extra_stop_tokens),  OSSRT_FIELD(ossrt_chat_options, n_extra_stop_tokens),
      OSSRT_FIELD(ossrt_chat_options, auto_drop_analysis), OSSRT_FIELD(ossrt_chat_options, on_event),
      OSSRT_FIELD(ossrt_chat_options, on_event_user_data),
  };
  static_assert(lists_every_field<ossrt_chat_options>(fields),
                "a field was appended to ossrt_chat_options: list it here");
  return fields;
}

ossrt_status check_struct_size(const char* where, uint32_t struct_size, std::span<const FieldSpan> fields) noexcept {
  char message[256];
  if (struct_size < sizeof(uint32_t)) {
    std::snprintf(message, sizeof message,
                  "%s: options->struct_size is %u, too small to hold struct_size itself (initialise the struct with "
                  "its _init function)",
                  where, struct_size);
    return invalid_argument(message);
  }
  for (const FieldSpan& field : fields) {
    if (struct_size > field.begin && struct_size < field.end) {
      std::snprintf(message, sizeof message,
                    "%s: options->struct_size %u ends inside field '%s' (bytes %zu to %zu): not the size of any "
                    "version of the struct (initialise it with its _init function)",
                    where, struct_size, field.name, field.begin, field.end);
      return invalid_argument(message);
    }
  }
  return OSSRT_STATUS_OK;
}

}  // namespace ossrt::capi
