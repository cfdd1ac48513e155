// ossrt chat: an interactive harmony chat over one session. Each turn reuses
// the cached history (only the new messages are prefilled) and streams the
// reply; lines starting with '/' are commands (slash_commands.h); a full
// context drops the oldest turns; Ctrl-C cancels the turn in progress.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>

#include "chat_transcript.h"
#include "commands.h"
#include "conversation_edits.h"
#include "progress_bar.h"
#include "slash_commands.h"
#include "turn_printer.h"

namespace ossrt_cli {
namespace {

using ossrt::harmony::Conversation;
using ossrt::harmony::Message;
using ossrt::harmony::Role;

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

std::optional<ossrt::harmony::ReasoningEffort> parse_effort(std::string_view text) {
  for (auto effort : {ossrt::harmony::ReasoningEffort::low, ossrt::harmony::ReasoningEffort::medium,
                      ossrt::harmony::ReasoningEffort::high})
    if (text == ossrt::harmony::reasoning_effort_name(effort)) return effort;
  return std::nullopt;
}

// How replies are shown.
struct Display {
  bool show_reasoning = false;
  bool dim = false;    // ANSI dim around the reasoning
  bool stats = false;  // a line per turn on stderr
};

class Chat {
 public:
  Chat(std::unique_ptr<ossrt::Session> session, ossrt::harmony::Renderer renderer, Conversation conversation,
       ossrt::Sampler sampler, ossrt::ChatOptions options, Display display)
      : session_(std::move(session)),
        renderer_(std::move(renderer)),
        conversation_(std::move(conversation)),
        sampler_(std::move(sampler)),
        options_(std::move(options)),
        display_(display) {}

  // One input line: a command, or a message ("//..." sends "/..."). Returns
  // false when the chat should end.
  bool handle_line(const std::string& line) {
    if (line.starts_with("//")) {
      send(line.substr(1));
      return true;
    }
    if (const std::optional<SlashLine> command = split_slash_line(line)) return run_command(*command);
    send(line);
    return true;
  }

  // Runs the user's message as a turn. A message the full context left
  // unanswered is run once more after the oldest turns are dropped.
  void send(const std::string& text) {
    conversation_.push_back(Message::from_role_and_content(Role::user, text));
    for (int attempt = 0; attempt < 2; ++attempt) {
      const std::optional<ossrt::ChatTurn> turn = run_turn();
      if (!turn || turn->finish_reason != ossrt::FinishReason::context_full) return;
      make_room();
      const bool unanswered = turn->generated_tokens == 0;
      if (!unanswered) return;
      if (conversation_.size() == preamble_length(conversation_)) {
        failed("the message does not fit in half of the context (" + std::to_string(session_->context_length()) +
               " tokens): it was dropped");
        return;
      }
    }
  }

  bool any_failed() const { return any_failed_; }

 private:
  // One chat_turn, printed as it streams; nullopt (after saying why) on a
  // failure, which leaves the conversation without the user's message.
  std::optional<ossrt::ChatTurn> run_turn() {
    TurnPrinter printer(display_.show_reasoning, display_.dim);
    options_.on_event = [&printer](const ossrt::harmony::ParseEvent& event) { return printer(event); };
    const auto start = std::chrono::steady_clock::now();
    active_session.store(session_.get());
    auto turn = ossrt::chat_turn(*session_, renderer_, conversation_, sampler_, options_);
    active_session.store(nullptr);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    printer.end_turn();
    if (!turn.ok()) {
      conversation_.pop_back();
      failed(turn.status().to_string());
      return std::nullopt;
    }
    const ossrt::ChatTurn& t = turn.value();
    if (display_.stats) {
      std::fprintf(stderr, "[%s; prompt %zu tokens, %zu reused; generated %zu (%zu reasoning) in %.2f s, %.1f tok/s]\n",
                   ossrt::finish_reason_name(t.finish_reason), t.prompt_tokens, t.reused_tokens, t.generated_tokens,
                   t.reasoning_tokens, seconds, seconds > 0 ? static_cast<double>(t.generated_tokens) / seconds : 0.0);
    } else if (t.finish_reason == ossrt::FinishReason::length) {
      std::fprintf(stderr, "[reply cut at --max-tokens %zu]\n", options_.max_tokens);
    } else if (t.finish_reason == ossrt::FinishReason::cancelled) {
      std::fputs("[cancelled]\n", stderr);
    }
    return std::move(turn.value());
  }

  // After a full context: drops the oldest turns until the conversation takes
  // at most half of the context (the system and developer messages stay).
  void make_room() {
    const size_t context = session_->context_length(), budget = context / 2;
    size_t dropped = 0;
    std::optional<size_t> length = rendered_length();
    while (length && *length > budget && drop_oldest_turn(conversation_)) {
      ++dropped;
      length = rendered_length();
    }
    trim_cache();
    if (!length) return;
    std::fprintf(stderr, "[context full (%zu tokens): dropped the %zu oldest turn%s; the conversation takes %zu]\n",
                 context, dropped, dropped == 1 ? "" : "s", *length);
    if (*length > budget)
      std::fputs(
          "[the system and developer messages alone take over half of it: /system shortens them, --context "
          "raises it]\n",
          stderr);
  }

  // Tokens of the next turn's prompt; nullopt (after saying why) when the
  // conversation does not render.
  std::optional<size_t> rendered_length() {
    auto prompt = renderer_.render_conversation_for_completion(conversation_, Role::assistant, options_.render);
    if (!prompt.ok()) {
      failed(prompt.status().to_string());
      return std::nullopt;
    }
    return prompt.value().size();
  }

  // After an edit of the conversation: the session keeps only what the
  // conversation still starts with, so /tokens counts what is in use.
  void trim_cache() {
    auto rendered = renderer_.render_conversation(conversation_, options_.render);
    const std::span<const ossrt::TokenId> held = session_->tokens();
    if (!rendered.ok()) {
      session_->reset();
      return;
    }
    const std::vector<ossrt::TokenId>& wanted = rendered.value();
    const size_t common =
        static_cast<size_t>(std::mismatch(held.begin(), held.end(), wanted.begin(), wanted.end()).first - held.begin());
    if (common < held.size() && !session_->truncate(common).ok()) session_->reset();
  }

  bool run_command(const SlashLine& line) {
    const auto commands = slash_commands();
    const auto command = std::find_if(commands.begin(), commands.end(),
                                      [&](const SlashCommandSpec& spec) { return line.name == spec.name; });
    if (command == commands.end()) {
      std::vector<std::string_view> names;
      for (const SlashCommandSpec& spec : commands) names.push_back(spec.name);
      const std::string close = closest_match(line.name, names);
      failed("unknown command /" + line.name + (close.empty() ? "" : "; did you mean /" + close + "?") +
             " (/help lists the commands)");
      return true;
    }
    if (command->argument == nullptr && !line.argument.empty()) {
      failed("/" + line.name + " takes no argument");
      return true;
    }
    if (command->argument_required && line.argument.empty()) {
      failed("usage: /" + line.name + " " + command->argument);
      return true;
    }
    switch (command->id) {
      case SlashCommandId::help:
        std::printf("chat commands (a line starting with // sends the rest as a message):\n%s",
                    slash_command_help().c_str());
        break;
      case SlashCommandId::reset:
        clear_turns(conversation_);
        trim_cache();
        std::printf("conversation cleared\n");
        break;
      case SlashCommandId::effort:
        if (const auto effort = parse_effort(line.argument)) {
          ossrt::harmony::set_reasoning_effort(conversation_, *effort);
          trim_cache();
          std::printf("reasoning effort: %s\n", ossrt::harmony::reasoning_effort_name(*effort));
        } else {
          failed("usage: /effort " + std::string(command->argument));
        }
        break;
      case SlashCommandId::system:
        set_instructions(conversation_, line.argument);
        trim_cache();
        std::printf(line.argument.empty() ? "instructions removed\n" : "instructions set\n");
        break;
      case SlashCommandId::save:
        if (ossrt::Status st = save_chat(line.argument, conversation_, *session_); !st.ok()) {
          failed(st.to_string());
        } else {
          std::printf("saved %s (%zu messages) and %s (%zu tokens)\n", line.argument.c_str(), conversation_.size(),
                      session_state_path(line.argument).c_str(), session_->tokens().size());
        }
        break;
      case SlashCommandId::load: {
        std::string note;
        if (ossrt::Status st = load_chat(line.argument, renderer_, conversation_, *session_, note); !st.ok()) {
          failed(st.to_string());
          break;
        }
        if (!note.empty()) std::fprintf(stderr, "ossrt chat: session state not restored: %s\n", note.c_str());
        std::printf("loaded %s (%zu messages; %zu tokens cached)\n", line.argument.c_str(), conversation_.size(),
                    session_->tokens().size());
        break;
      }
      case SlashCommandId::tokens:
        std::printf("context: %zu / %zu tokens\n", session_->tokens().size(), session_->context_length());
        break;
      case SlashCommandId::quit:
        return false;
    }
    std::fflush(stdout);
    return true;
  }

  void failed(const std::string& message) {
    std::fprintf(stderr, "ossrt chat: %s\n", message.c_str());
    any_failed_ = true;
  }

  std::unique_ptr<ossrt::Session> session_;
  ossrt::harmony::Renderer renderer_;
  Conversation conversation_;
  ossrt::Sampler sampler_;
  ossrt::ChatOptions options_;
  Display display_;
  bool any_failed_ = false;
};

// The schema text of --json-schema, refused before the model loads when
// the runtime cannot enforce it.
ossrt::Result<std::string> read_json_schema(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return ossrt::Status(ossrt::StatusCode::io_error, "--json-schema " + file + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return ossrt::Status(ossrt::StatusCode::io_error, "--json-schema " + file + ": cannot read");
  if (ossrt::Status st = ossrt::check_response_format(text.str()); !st.ok())
    return ossrt::Status(st.code(), "--json-schema " + file + ": " + st.message());
  return text.str();
}

}  // namespace

int run_chat(const ParsedFlags& flags) {
  ossrt::ChatOptions options;
  options.max_tokens = flags.count("max-tokens").value_or(options.max_tokens);
  if (const std::optional<std::string> schema_file = flags.text("json-schema")) {
    auto schema = read_json_schema(*schema_file);
    if (!schema.ok()) return fail(schema.status());
    options.response_format_schema = std::move(schema).value();
  }
  ossrt::SessionOptions session_options;
  session_options.context_length = flags.count("context").value_or(0);
  session_options.numerics = numerics_from_flags(flags);
  auto sampler = sampler_from_flags(flags);
  if (!sampler.ok()) return usage_error(flags.spec(), sampler.status().message());
  Display display;
  display.show_reasoning = flags.has("show-reasoning");
  const std::string color = flags.text("color").value_or("auto");
  display.dim = color == "always" || (color == "auto" && ::isatty(STDOUT_FILENO));
  display.stats = flags.has("stats");

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
  std::fprintf(stderr, "ossrt chat: %s (%lld layers, %llu parameters); context %zu tokens; /help lists commands\n",
               info.directory.c_str(), static_cast<long long>(info.config.num_hidden_layers),
               static_cast<unsigned long long>(info.parameter_count), session.value()->context_length());

  Conversation conversation;
  conversation.push_back(Message::from_role_and_content(Role::system, ossrt::harmony::SystemContent::defaults()));
  if (auto effort = parse_effort(flags.text("effort").value_or("")))
    ossrt::harmony::set_reasoning_effort(conversation, *effort);
  set_instructions(conversation, flags.text("system").value_or(""));
  Chat chat(std::move(session.value()), std::move(renderer.value()), std::move(conversation),
            std::move(sampler.value()), std::move(options), display);

  std::signal(SIGINT, on_interrupt);
  if (const std::optional<std::string> prompt = flags.text("prompt")) {
    std::fprintf(stderr, "> %s\n", prompt->c_str());
    chat.send(*prompt);
  } else {
    const bool interactive = ::isatty(STDIN_FILENO);
    std::string line;
    while (true) {
      if (interactive) std::fputs("> ", stderr);
      if (!std::getline(std::cin, line)) break;
      if (line.empty()) continue;
      if (!interactive) std::fprintf(stderr, "> %s\n", line.c_str());
      if (!chat.handle_line(line)) break;
    }
  }
  return chat.any_failed() ? kExitFailure : 0;
}

}  // namespace ossrt_cli
