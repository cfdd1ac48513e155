// The Responses API's shapes (as the gpt-oss reference server writes them):
// output items (reasoning, message, function_call) built from reply deltas,
// the streamed events (response.created, response.output_item.added,
// response.output_text.delta, ..., response.completed) and the final
// response object.
//
// Thread rules: one thread at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "completion_meta.h"
#include "generation_stream.h"
#include "ossrt/json.hpp"
#include "reply_builder.h"

namespace ossrt_server {

class ResponsesWriter {
 public:
  // `settings`: an object whose members every response object repeats (the
  // request's settings, GenerationRequest::response_echo); null for none.
  explicit ResponsesWriter(CompletionMeta meta, ossrt::JsonValue settings = {})
      : meta_(std::move(meta)), settings_(std::move(settings)) {}

  // response.created and response.in_progress.
  std::string start();
  // The events of one delta (opening and closing output items as the
  // delta's kind changes); the items are kept for the final object.
  std::string add(const ReplyDelta& delta, const Reply& reply);
  // Closes the open item; response.completed (status completed, or
  // incomplete when max_output_tokens or the context ended it).
  std::string finish(const GenerationOutcome& outcome);
  // The response object: status in_progress until finish().
  ossrt::JsonValue response() const;

 private:
  enum class ItemKind { none, reasoning, message, function_call };
  std::string event(const char* type, std::vector<ossrt::JsonMember> members);
  std::string open(ItemKind kind, const Reply& reply, size_t tool_index);
  std::string close();
  ossrt::JsonValue current_item(bool done) const;

  CompletionMeta meta_;
  ossrt::JsonValue settings_;
  uint64_t sequence_ = 0;
  std::vector<ossrt::JsonValue> items_;  // completed output items
  ItemKind open_ = ItemKind::none;
  std::string item_id_, text_, call_id_, call_name_;
  std::string status_ = "in_progress";
  GenerationOutcome outcome_;
};

}  // namespace ossrt_server
