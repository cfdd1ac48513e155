// The Chat Completions API's response shapes: the whole chat.completion
// object, and the chat.completion.chunk stream (as SSE data lines).
//
// Thread rules: pure functions; safe from any thread.
#pragma once

#include <string>

#include "completion_meta.h"
#include "generation_stream.h"
#include "reply_builder.h"

namespace ossrt_server {

// OpenAI's finish_reason for an outcome: a stop string or <|return|> "stop",
// <|call|> with function calls "tool_calls", max tokens or a full context
// "length".
const char* chat_finish_reason(const GenerationOutcome& outcome, const Reply& reply);

// {"id", "object": "chat.completion", ..., "choices": [{"message": {"role",
// "content", "reasoning_content", "tool_calls"}, "finish_reason"}], "usage"}.
std::string chat_completion_json(const CompletionMeta& meta, const Reply& reply, const GenerationOutcome& outcome);

// The stream: the first chunk (role), one chunk per delta, the last chunk
// (finish_reason), the usage chunk (stream_options.include_usage), [DONE].
std::string chat_role_chunk(const CompletionMeta& meta);
std::string chat_delta_chunk(const CompletionMeta& meta, const ReplyDelta& delta, const Reply& reply);
std::string chat_finish_chunk(const CompletionMeta& meta, const GenerationOutcome& outcome, const Reply& reply);
std::string chat_usage_chunk(const CompletionMeta& meta, const GenerationOutcome& outcome);
std::string chat_done();

}  // namespace ossrt_server
