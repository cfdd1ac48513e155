// Server-sent events framing (text/event-stream) as OpenAI's APIs use it.
#pragma once

#include <string>
#include <string_view>

namespace ossrt_server {

// "data: <json>\n\n": one Chat Completions chunk (and "data: [DONE]").
std::string sse_data(std::string_view json);
// "event: <name>\ndata: <json>\n\n": one Responses API event.
std::string sse_event(std::string_view name, std::string_view json);

}  // namespace ossrt_server
