// The OpenAI-compatible HTTP routes over a DecodeScheduler:
// POST /v1/chat/completions, POST /v1/responses (both streamed as SSE when
// asked), GET /v1/models, GET /health; errors as {"error": {...}} JSON.
//
// Thread rules: the handlers run on httplib's worker threads, any number at
// once; each request's generation runs on the scheduler's thread. A request
// whose client leaves (streamed or not, see ClientConnection) is cancelled
// within about 50 ms; the others go on.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <variant>

#include "completion_meta.h"
#include "decode_scheduler.h"
#include "openai_request.h"
#include "ossrt/harmony.hpp"
#include "reply_builder.h"

namespace httplib {
class Server;
}

namespace ossrt_server {

class OpenAiRoutes {
 public:
  // `model_id` is what /v1/models lists and every response names.
  OpenAiRoutes(DecodeScheduler& scheduler, ossrt::harmony::Renderer renderer, std::string model_id)
      : scheduler_(scheduler), renderer_(std::move(renderer)), model_id_(std::move(model_id)) {}

  // Registers the routes and JSON error handlers on `server`. The routes
  // must outlive the server's listening.
  void install(httplib::Server& server);

 private:
  // A request accepted and submitted: its settings, its generation, what
  // its responses repeat, and the reply being built from its events.
  struct Accepted {
    GenerationRequest request;
    std::shared_ptr<GenerationStream> stream;
    CompletionMeta meta;
    std::shared_ptr<ReplyBuilder> builder;
  };
  // Parses `body` with `parse`, renders it, checks it against the context,
  // builds the sampler and submits it. Failure: the ApiError to answer with
  // (the body's faults, an unrenderable conversation, a prompt too long).
  std::variant<Accepted, ApiError> accept(std::string_view body, ParsedRequest (*parse)(std::string_view),
                                          const char* id_prefix);

  DecodeScheduler& scheduler_;
  ossrt::harmony::Renderer renderer_;
  std::string model_id_;
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace ossrt_server
