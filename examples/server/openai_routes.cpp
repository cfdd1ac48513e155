#include "openai_routes.h"

#include <httplib.h>

#include <chrono>
#include <functional>
#include <span>

#include "chat_completion_writer.h"
#include "client_connection.h"
#include "ossrt/chat.hpp"
#include "ossrt/chat_constraint.hpp"
#include "ossrt/json.hpp"
#include "reply_builder.h"
#include "responses_writer.h"
#include "sse_format.h"

namespace ossrt_server {
namespace {

using ossrt::JsonValue;

constexpr const char* kJson = "application/json";
constexpr const char* kEventStream = "text/event-stream";

std::string error_json(const ApiError& error) {
  return JsonValue::object({{"error", JsonValue::object({
                                          {"message", JsonValue::string(error.message)},
                                          {"type", JsonValue::string(error.type)},
                                          {"param", error.param.empty() ? JsonValue() : JsonValue::string(error.param)},
                                          {"code", JsonValue()},
                                      })}})
      .dump();
}

void send_error(httplib::Response& res, const ApiError& error) {
  res.status = error.http_status;
  res.set_content(error_json(error), kJson);
}

// A generation that failed after it was accepted (the model, memory).
ApiError generation_error(const ossrt::Status& status) {
  return ApiError{500, "generation failed: " + status.to_string(), "", "server_error"};
}

int64_t unix_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// How long a generation may stay silent before its client is probed (the
// parser holds text back while a header is open; a non-streamed reply says
// nothing until its end): ClientConnection::gone, and for a stream an SSE
// comment, whose write fails once the client has gone.
constexpr std::chrono::milliseconds kProbeInterval{50};

// Drains `started`'s stream through `builder`: each batch of deltas goes to
// `write` (an empty one after kProbeInterval of silence), a matched stop
// string stops the generation. Returns false when `write` does (the client is
// gone): the generation is then cancelled.
bool pump(GenerationStream& stream, ReplyBuilder& builder,
          const std::function<bool(std::span<const ReplyDelta>)>& write) {
  std::vector<ossrt::harmony::ParseEvent> events;
  std::vector<ReplyDelta> deltas;
  while (stream.next(events, kProbeInterval) != GenerationStream::Wait::ended) {
    deltas.clear();
    for (const auto& event : events) builder.feed(event, deltas);
    events.clear();
    if (builder.stop_matched()) stream.cancel(FinishReason::stop);
    if (!write(deltas)) {
      stream.cancel();
      return false;
    }
  }
  deltas.clear();
  builder.finish(deltas);
  return deltas.empty() || write(deltas);
}

// Sends `text` to a streaming client (an SSE comment when there is nothing
// to say: a probe the client ignores); false once it has gone.
bool send(const ClientConnection& client, httplib::DataSink& sink, const std::string& text) {
  static const std::string probe = ": waiting\n\n";
  const std::string& out = text.empty() ? probe : text;
  return !client.gone() && sink.is_writable() && sink.write(out.data(), out.size());
}

}  // namespace

std::variant<OpenAiRoutes::Accepted, ApiError> OpenAiRoutes::accept(std::string_view body,
                                                                    ParsedRequest (*parse)(std::string_view),
                                                                    const char* id_prefix) {
  ParsedRequest parsed = parse(body);
  if (auto* error = std::get_if<ApiError>(&parsed)) return std::move(*error);
  const GenerationRequest& request = std::get<GenerationRequest>(parsed);
  // What chat_turn would render and enforce for the same conversation and format.
  ossrt::ChatOptions shown;
  shown.response_format_schema = request.response_format_schema;
  shown.response_format_name = request.response_format_name;
  shown.response_format_description = request.response_format_description;
  auto prompt = ossrt::render_chat_prompt(renderer_, request.conversation, shown);
  if (!prompt.ok())
    return ApiError{400, "the conversation cannot be rendered: " + prompt.status().message(), "messages"};
  auto constraint = ossrt::ChatConstraint::create(renderer_, request.conversation, request.response_format_schema,
                                                  request.strict_tools);
  // The parser compiled every schema already: what fails here is the server's.
  if (!constraint.ok()) return ApiError{500, constraint.status().message(), "", "server_error"};
  const size_t context = scheduler_.context_length();
  if (prompt.value().size() >= context)
    return ApiError{400,
                    "the prompt takes " + std::to_string(prompt.value().size()) + " tokens; the context holds " +
                        std::to_string(context) + " (with room for a reply)",
                    "messages"};
  auto sampler = ossrt::Sampler::create(request.sampling);
  if (!sampler.ok()) return ApiError{400, sampler.status().message(), ""};
  Accepted started;
  started.stream = std::make_shared<GenerationStream>();
  started.meta.id = id_prefix + std::to_string(next_id_.fetch_add(1));
  started.meta.created = unix_seconds();
  started.meta.model = model_id_;
  GenerationJob job{std::move(prompt.value()), std::move(sampler.value()), 0, started.stream, std::nullopt};
  if (constraint.value().enabled()) job.constraint = std::move(constraint).value();
  // Without a limit the reply may fill the context.
  job.max_tokens = std::min(request.max_tokens.value_or(context), context - job.prompt.size());
  scheduler_.submit(std::move(job));
  started.builder = std::make_shared<ReplyBuilder>(request.stop, started.meta.id);
  started.request = std::get<GenerationRequest>(std::move(parsed));
  return started;
}

void OpenAiRoutes::install(httplib::Server& server) {
  server.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    const DecodeScheduler::Counts counts = scheduler_.counts();
    res.set_content(JsonValue::object({{"status", JsonValue::string("ok")},
                                       {"requests_running", JsonValue::unsigned_integer(counts.running)},
                                       {"requests_prefilling", JsonValue::unsigned_integer(counts.prefilling)},
                                       {"requests_finished", JsonValue::unsigned_integer(counts.finished)},
                                       {"requests_cancelled", JsonValue::unsigned_integer(counts.cancelled)},
                                       {"sessions", JsonValue::unsigned_integer(counts.sessions)}})
                        .dump(),
                    kJson);
  });

  server.Get("/v1/models", [this](const httplib::Request&, httplib::Response& res) {
    const JsonValue model = JsonValue::object({{"id", JsonValue::string(model_id_)},
                                               {"object", JsonValue::string("model")},
                                               {"created", JsonValue::integer(0)},
                                               {"owned_by", JsonValue::string("ossrt")}});
    res.set_content(
        JsonValue::object({{"object", JsonValue::string("list")}, {"data", JsonValue::array({model})}}).dump(), kJson);
  });

  server.Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    auto accepted = accept(req.body, parse_chat_completion_request, "chatcmpl-");
    if (auto* error = std::get_if<ApiError>(&accepted)) return send_error(res, *error);
    const Accepted run = std::get<Accepted>(std::move(accepted));
    const GenerationRequest& request = run.request;
    const std::shared_ptr<ReplyBuilder>& builder = run.builder;
    const ClientConnection client = ClientConnection::of(req);
    if (!request.stream) {
      // Nothing is written until the end: the write only asks whether the client is still there.
      if (!pump(*run.stream, *builder, [&](std::span<const ReplyDelta>) { return !client.gone(); })) return;
      if (!run.stream->outcome().status.ok()) return send_error(res, generation_error(run.stream->outcome().status));
      res.set_content(chat_completion_json(run.meta, builder->reply(), run.stream->outcome()), kJson);
      return;
    }
    const bool include_usage = request.include_usage;
    res.set_chunked_content_provider(
        kEventStream,
        [run, builder, include_usage, client](size_t, httplib::DataSink& sink) {
          if (!send(client, sink, chat_role_chunk(run.meta))) {
            run.stream->cancel();
            return false;
          }
          const bool delivered = pump(*run.stream, *builder, [&](std::span<const ReplyDelta> deltas) {
            std::string text;
            for (const ReplyDelta& delta : deltas) text += chat_delta_chunk(run.meta, delta, builder->reply());
            return send(client, sink, text);
          });
          if (!delivered) return false;
          const GenerationOutcome& outcome = run.stream->outcome();
          std::string tail = outcome.status.ok() ? chat_finish_chunk(run.meta, outcome, builder->reply())
                                                 : sse_data(error_json(generation_error(outcome.status)));
          if (include_usage && outcome.status.ok()) tail += chat_usage_chunk(run.meta, outcome);
          tail += chat_done();
          if (!send(client, sink, tail)) return false;
          sink.done();
          return true;
        },
        // Also when the connection ended before the provider ran.
        [stream = run.stream](bool) { stream->cancel(); });
  });

  server.Post("/v1/responses", [this](const httplib::Request& req, httplib::Response& res) {
    auto accepted = accept(req.body, parse_responses_request, "resp_");
    if (auto* error = std::get_if<ApiError>(&accepted)) return send_error(res, *error);
    const Accepted run = std::get<Accepted>(std::move(accepted));
    const GenerationRequest& request = run.request;
    const std::shared_ptr<ReplyBuilder>& builder = run.builder;
    auto writer = std::make_shared<ResponsesWriter>(run.meta, request.response_echo);
    const ClientConnection client = ClientConnection::of(req);
    if (!request.stream) {
      const bool delivered = pump(*run.stream, *builder, [&](std::span<const ReplyDelta> deltas) {
        for (const ReplyDelta& delta : deltas) writer->add(delta, builder->reply());
        return !client.gone();
      });
      if (!delivered) return;
      if (!run.stream->outcome().status.ok()) return send_error(res, generation_error(run.stream->outcome().status));
      writer->finish(run.stream->outcome());
      res.set_content(writer->response().dump(), kJson);
      return;
    }
    res.set_chunked_content_provider(
        kEventStream,
        [run, builder, writer, client](size_t, httplib::DataSink& sink) {
          if (!send(client, sink, writer->start())) {
            run.stream->cancel();
            return false;
          }
          const bool delivered = pump(*run.stream, *builder, [&](std::span<const ReplyDelta> deltas) {
            std::string text;
            for (const ReplyDelta& delta : deltas) text += writer->add(delta, builder->reply());
            return send(client, sink, text);
          });
          if (!delivered) return false;
          const GenerationOutcome& outcome = run.stream->outcome();
          const std::string tail = outcome.status.ok()
                                       ? writer->finish(outcome)
                                       : sse_event("error", error_json(generation_error(outcome.status)));
          if (!send(client, sink, tail)) return false;
          sink.done();
          return true;
        },
        [stream = run.stream](bool) { stream->cancel(); });
  });

  server.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;  // a route already wrote its JSON error
    const std::string what = res.status == 404 ? "no route " + req.method + " " + req.path : "request refused";
    res.set_content(error_json(ApiError{res.status, what, "", "invalid_request_error"}), kJson);
  });
  server.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, ApiError{500, "internal error handling the request", "", "server_error"});
  });
}

}  // namespace ossrt_server
