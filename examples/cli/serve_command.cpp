// ossrt serve: the OpenAI-compatible local server (examples/server) on one
// model. SIGINT / SIGTERM stop it: running requests end as cancelled.
#include <httplib.h>
#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "commands.h"
#include "decode_scheduler.h"
#include "openai_routes.h"

namespace ossrt_cli {

int run_serve(const ParsedFlags& flags) {
  // Blocked before any thread starts, so every thread inherits the mask and
  // the signals reach only the waiter below (which may call server.stop()).
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  const size_t max_sessions = flags.count("max-sessions").value_or(8);
  ossrt::SessionOptions session_options;
  session_options.context_length = flags.count("context").value_or(0);
  session_options.numerics = numerics_from_flags(flags);
  session_options.threads = flags.count("threads").value_or(0);
  ossrt::ModelOptions model_options;
  model_options.preload = true;
  auto model = load_model(flags, model_options);
  if (!model.ok()) return fail(model.status());
  auto scheduler = ossrt_server::DecodeScheduler::create(model.value(), session_options, max_sessions,
                                                         flags.count("max-step-tokens").value_or(0));
  if (!scheduler.ok()) return fail(scheduler.status());
  const std::string model_id =
      flags.text("model-id").value_or(std::filesystem::path(*flags.text("model")).filename().string());
  ossrt_server::OpenAiRoutes routes(*scheduler.value(), ossrt::harmony::Renderer(scheduler.value()->tokenizer()),
                                    model_id);

  httplib::Server server;
  // A streamed request holds its worker thread until it ends: room for every
  // session's client plus as many waiting or quick requests.
  const size_t workers = 2 * max_sessions + 4;
  server.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server.set_payload_max_length(64u << 20);
  routes.install(server);

  const std::string host = flags.text("host").value_or("127.0.0.1");
  const size_t requested_port = flags.count("port").value_or(8080);
  int port = static_cast<int>(requested_port);
  if (requested_port > 65535)
    return fail(ossrt::Status(ossrt::StatusCode::invalid_argument, "--port must be <= 65535"));
  if (port == 0 ? (port = server.bind_to_any_port(host)) < 0 : !server.bind_to_port(host, port))
    return fail(
        ossrt::Status(ossrt::StatusCode::io_error, "cannot listen on " + host + ":" + std::to_string(requested_port)));
  std::fprintf(stderr, "ossrt serve: %s on http://%s:%d (%zu sessions, context %zu tokens)\n", model_id.c_str(),
               host.c_str(), port, max_sessions, scheduler.value()->context_length());
  std::fflush(stderr);

  std::thread stopper([&] {
    int signal = 0;
    sigwait(&stop_signals, &signal);
    server.stop();
  });
  const bool listened = server.listen_after_bind();
  // Wake the waiter if the server ended by itself, then wait for it.
  if (!listened) pthread_kill(stopper.native_handle(), SIGTERM);
  stopper.join();
  scheduler.value()->stop();
  std::fprintf(stderr, "ossrt serve: stopped\n");
  return listened ? 0 : kExitFailure;
}

}  // namespace ossrt_cli
