// ossrt chat: an interactive harmony chat over one session. Each turn reuses
// the cached history (only the new user message is prefilled), streams the
// final channel to stdout (and the analysis channel to stderr with
// --show-reasoning), and Ctrl-C cancels the turn in progress.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>

#include "commands.h"
#include "progress_bar.h"

namespace ossrt_cli {
namespace {

// The session whose turn Ctrl-C cancels (null between turns: Ctrl-C exits).
std::atomic<ossrt::Session*> active_session{nullptr};
static_assert(std::atomic<ossrt::Session*>::is_always_lock_free);

void on_interrupt(int) {
  // Session::cancel only stores to an atomic flag: safe in a signal handler.
  if (ossrt::Session* session = active_session.load()) {
    session->cancel();
  } else {
    static const char newline = '\n';
    static_cast<void>(::write(STDERR_FILENO, &newline, 1));
    ::_exit(130);
  }
}

std::optional<ossrt::harmony::ReasoningEffort> parse_effort(const std::string& text) {
  if (text == "low") return ossrt::harmony::ReasoningEffort::low;
  if (text == "medium") return ossrt::harmony::ReasoningEffort::medium;
  if (text == "high") return ossrt::harmony::ReasoningEffort::high;
  return std::nullopt;
}

// Prints a turn's events as they stream: final text to stdout, reasoning
// (when asked) dimmed to stderr, tool calls as one line each.
class TurnPrinter {
 public:
  explicit TurnPrinter(bool show_reasoning) : show_reasoning_(show_reasoning) {}
  bool operator()(const ossrt::harmony::ParseEvent& event) {
    using Kind = ossrt::harmony::ParseEvent::Kind;
    switch (event.kind) {
      case Kind::message_start:
        channel_ = event.channel.value_or("");
        if (channel_ == "analysis" && show_reasoning_) std::fputs("\x1b[2m[reasoning] ", stderr);
        break;
      case Kind::content_delta:
        if (channel_ == "final" || (channel_.empty() && !event.recipient)) {
          std::fwrite(event.text.data(), 1, event.text.size(), stdout);
          std::fflush(stdout);
        } else if (channel_ == "analysis" && show_reasoning_) {
          std::fwrite(event.text.data(), 1, event.text.size(), stderr);
        }
        break;
      case Kind::message_end:
        if (channel_ == "analysis" && show_reasoning_) std::fputs("\x1b[0m\n", stderr);
        break;
      case Kind::tool_call:
        std::fprintf(stderr, "[tool call to %s: %s]\n", event.recipient.value_or("?").c_str(), event.text.c_str());
        break;
      case Kind::anomaly:
        break;
    }
    return true;
  }

 private:
  bool show_reasoning_;
  std::string channel_;
};

}  // namespace

int run_chat(const Flags& flags) {
  ossrt::ChatOptions chat;
  std::optional<ossrt::harmony::ReasoningEffort> effort;
  if (auto it = flags.find("effort"); it != flags.end()) {
    effort = parse_effort(it->second);
    if (!effort) {
      std::fprintf(stderr, "ossrt chat: --effort must be low, medium or high\n");
      return 2;
    }
  }
  if (auto it = flags.find("max-tokens"); it != flags.end() && !parse_size(it->second, chat.max_tokens)) {
    std::fprintf(stderr, "ossrt chat: --max-tokens needs a non-negative integer\n");
    return 2;
  }
  ossrt::SessionOptions session_options;
  if (auto it = flags.find("context"); it != flags.end() && !parse_size(it->second, session_options.context_length)) {
    std::fprintf(stderr, "ossrt chat: --context needs a non-negative integer\n");
    return 2;
  }
  if (!parse_numerics(flags, "chat", session_options)) return 2;
  ossrt::SamplerOptions sampling;  // temperature 1, as gpt-oss is meant to be sampled
  if (!parse_sampling(flags, "chat", sampling)) return 2;
  auto sampler = ossrt::Sampler::create(sampling);
  if (!sampler.ok()) return fail(sampler.status());
  const bool show_reasoning = flags.count("show-reasoning") > 0;
  const auto one_prompt = flags.find("prompt");

  ProgressBar bar("loading");
  ossrt::ModelOptions model_options;
  model_options.preload = true;
  model_options.progress = [&bar](uint64_t done, uint64_t total) { return bar.update(done, total); };
  auto model = load_model(flags, model_options);
  if (!model.ok()) return fail(model.status());
  auto session = ossrt::Session::create(model.value(), session_options);
  if (!session.ok()) return fail(session.status());
  auto renderer = ossrt::harmony::Renderer::create();
  if (!renderer.ok()) return fail(renderer.status());
  const ossrt::ModelInfo& info = model.value()->info();
  std::fprintf(stderr, "ossrt chat: %s (%lld layers, %llu parameters); context %zu tokens\n", info.directory.c_str(),
               static_cast<long long>(info.config.num_hidden_layers),
               static_cast<unsigned long long>(info.parameter_count), session.value()->context_length());

  ossrt::harmony::Conversation conversation;
  using ossrt::harmony::Message;
  using ossrt::harmony::Role;
  conversation.push_back(Message::from_role_and_content(Role::system, ossrt::harmony::SystemContent::defaults()));
  if (effort) ossrt::harmony::set_reasoning_effort(conversation, *effort);
  if (auto it = flags.find("system"); it != flags.end()) {
    conversation.push_back(Message::from_role_and_content(
        Role::developer, ossrt::harmony::DeveloperContent{}.with_instructions(it->second)));
  }
  std::signal(SIGINT, on_interrupt);
  const bool interactive = one_prompt == flags.end() && ::isatty(STDIN_FILENO);
  std::string line;
  while (true) {
    if (one_prompt != flags.end()) {
      if (!line.empty()) break;
      line = one_prompt->second;
      std::fprintf(stderr, "> %s\n", line.c_str());
    } else {
      if (interactive) std::fputs("> ", stderr);
      if (!std::getline(std::cin, line)) break;
      if (line.empty()) continue;
      if (!interactive) std::fprintf(stderr, "> %s\n", line.c_str());
    }
    conversation.push_back(Message::from_role_and_content(Role::user, line));
    TurnPrinter printer(show_reasoning);
    chat.on_event = [&printer](const ossrt::harmony::ParseEvent& event) { return printer(event); };
    const auto start = std::chrono::steady_clock::now();
    active_session.store(session.value().get());
    auto turn = ossrt::chat_turn(*session.value(), renderer.value(), conversation, sampler.value(), chat);
    active_session.store(nullptr);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!turn.ok()) return fail(turn.status());
    const ossrt::ChatTurn& t = turn.value();
    std::fprintf(stdout, "\n");
    std::fprintf(stderr, "[%s; prompt %zu tokens, %zu reused; generated %zu (%zu reasoning) in %.2f s, %.1f tok/s]\n",
                 ossrt::finish_reason_name(t.finish_reason), t.prompt_tokens, t.reused_tokens, t.generated_tokens,
                 t.reasoning_tokens, seconds, seconds > 0 ? static_cast<double>(t.generated_tokens) / seconds : 0.0);
  }
  return 0;
}

}  // namespace ossrt_cli
