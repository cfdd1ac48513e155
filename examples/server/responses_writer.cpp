#include "responses_writer.h"

#include "json_shorthand.h"
#include "sse_format.h"

namespace ossrt_server {
namespace {

using ossrt::JsonMember;
using ossrt::JsonValue;

JsonValue text_part(const char* type, const std::string& text) {
  std::vector<JsonMember> members{{"type", str(type)}, {"text", str(text)}};
  if (std::string_view(type) == "output_text") members.push_back({"annotations", JsonValue::array({})});
  return JsonValue::object(std::move(members));
}

}  // namespace

std::string ResponsesWriter::event(const char* type, std::vector<JsonMember> members) {
  members.insert(members.begin(), {{"type", str(type)}, {"sequence_number", num(sequence_++)}});
  return sse_event(type, JsonValue::object(std::move(members)).dump());
}

JsonValue ResponsesWriter::current_item(bool done) const {
  const JsonValue status = str(done ? "completed" : "in_progress");
  switch (open_) {
    case ItemKind::reasoning:
      return JsonValue::object({{"type", str("reasoning")},
                                {"id", str(item_id_)},
                                {"summary", JsonValue::array({})},
                                {"content", JsonValue::array({text_part("reasoning_text", text_)})}});
    case ItemKind::message:
      return JsonValue::object({{"type", str("message")},
                                {"id", str(item_id_)},
                                {"role", str("assistant")},
                                {"status", status},
                                {"content", JsonValue::array({text_part("output_text", text_)})}});
    case ItemKind::function_call:
      return JsonValue::object({{"type", str("function_call")},
                                {"id", str(item_id_)},
                                {"call_id", str(call_id_)},
                                {"name", str(call_name_)},
                                {"arguments", str(text_)},
                                {"status", status}});
    case ItemKind::none:
      break;
  }
  return JsonValue();
}

std::string ResponsesWriter::open(ItemKind kind, const Reply& reply, size_t tool_index) {
  std::string out = close();
  open_ = kind;
  text_.clear();
  const size_t index = items_.size();
  item_id_ = (kind == ItemKind::reasoning ? "rs_"
              : kind == ItemKind::message ? "msg_"
                                          : "fc_") +
             meta_.id + "_" + std::to_string(index);
  if (kind == ItemKind::function_call) {
    call_id_ = reply.tool_calls[tool_index].id;
    call_name_ = reply.tool_calls[tool_index].name;
  }
  out += event("response.output_item.added", {{"output_index", num(index)}, {"item", current_item(false)}});
  if (kind != ItemKind::function_call)
    out += event("response.content_part.added",
                 {{"item_id", str(item_id_)},
                  {"output_index", num(index)},
                  {"content_index", num(0)},
                  {"part", text_part(kind == ItemKind::reasoning ? "reasoning_text" : "output_text", "")}});
  return out;
}

std::string ResponsesWriter::close() {
  if (open_ == ItemKind::none) return {};
  const size_t index = items_.size();
  std::string out;
  if (open_ == ItemKind::function_call) {
    out += event("response.function_call_arguments.done",
                 {{"item_id", str(item_id_)}, {"output_index", num(index)}, {"arguments", str(text_)}});
  } else {
    const bool reasoning = open_ == ItemKind::reasoning;
    out += event(
        reasoning ? "response.reasoning_text.done" : "response.output_text.done",
        {{"item_id", str(item_id_)}, {"output_index", num(index)}, {"content_index", num(0)}, {"text", str(text_)}});
    out +=
        event("response.content_part.done", {{"item_id", str(item_id_)},
                                             {"output_index", num(index)},
                                             {"content_index", num(0)},
                                             {"part", text_part(reasoning ? "reasoning_text" : "output_text", text_)}});
  }
  items_.push_back(current_item(true));
  out += event("response.output_item.done", {{"output_index", num(index)}, {"item", items_.back()}});
  open_ = ItemKind::none;
  return out;
}

std::string ResponsesWriter::start() {
  std::string out = event("response.created", {{"response", response()}});
  out += event("response.in_progress", {{"response", response()}});
  return out;
}

std::string ResponsesWriter::add(const ReplyDelta& delta, const Reply& reply) {
  std::string out;
  const char* delta_event = nullptr;
  switch (delta.kind) {
    case ReplyDelta::Kind::tool_call_start:
      return open(ItemKind::function_call, reply, delta.tool_index);
    case ReplyDelta::Kind::tool_call_arguments:
      text_ += delta.text;
      return event("response.function_call_arguments.delta",
                   {{"item_id", str(item_id_)}, {"output_index", num(items_.size())}, {"delta", str(delta.text)}});
    case ReplyDelta::Kind::reasoning:
      if (open_ != ItemKind::reasoning) out += open(ItemKind::reasoning, reply, 0);
      delta_event = "response.reasoning_text.delta";
      break;
    case ReplyDelta::Kind::content:
      if (open_ != ItemKind::message) out += open(ItemKind::message, reply, 0);
      delta_event = "response.output_text.delta";
      break;
  }
  text_ += delta.text;
  out += event(delta_event, {{"item_id", str(item_id_)},
                             {"output_index", num(items_.size())},
                             {"content_index", num(0)},
                             {"delta", str(delta.text)}});
  return out;
}

std::string ResponsesWriter::finish(const GenerationOutcome& outcome) {
  std::string out = close();
  outcome_ = outcome;
  status_ = outcome.finish_reason == FinishReason::length ? "incomplete" : "completed";
  out += event("response.completed", {{"response", response()}});
  return out;
}

JsonValue ResponsesWriter::response() const {
  JsonValue incomplete_details, usage;  // null until finish()
  if (status_ == "incomplete") incomplete_details = JsonValue::object({{"reason", str("max_output_tokens")}});
  if (status_ != "in_progress")
    usage = JsonValue::object({
        {"input_tokens", num(outcome_.prompt_tokens)},
        {"input_tokens_details", JsonValue::object({{"cached_tokens", num(outcome_.cached_tokens)}})},
        {"output_tokens", num(outcome_.completion_tokens)},
        {"output_tokens_details", JsonValue::object({{"reasoning_tokens", num(outcome_.reasoning_tokens)}})},
        {"total_tokens", num(outcome_.prompt_tokens + outcome_.completion_tokens)},
    });
  std::vector<JsonMember> members{
      {"id", str(meta_.id)},
      {"object", str("response")},
      {"created_at", JsonValue::integer(meta_.created)},
      {"status", str(status_)},
      {"model", str(meta_.model)},
      {"output", JsonValue::array(items_)},
      {"error", JsonValue()},
      {"incomplete_details", std::move(incomplete_details)},
  };
  for (const JsonMember& setting : settings_.members()) members.push_back(setting);
  members.push_back({"usage", std::move(usage)});
  return JsonValue::object(std::move(members));
}

}  // namespace ossrt_server
