// The CLI's parts below its commands: command-line parsing against the
// command table, the usage text built from it, the chat's command lines,
// conversation edits, the reply printer and /save + /load's files.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "chat_transcript.h"
#include "command_table.h"
#include "conversation_edits.h"
#include "flags.h"
#include "slash_commands.h"
#include "turn_printer.h"

using namespace ossrt_cli;
using ossrt::harmony::Conversation;
using ossrt::harmony::Message;
using ossrt::harmony::Role;

namespace {

// Parses `args` (after "ossrt COMMAND") against the command's table.
struct Parsed {
  ParseOutcome outcome;
  std::string error;
  ParsedFlags flags;
};
Parsed parse(const char* command, std::initializer_list<const char*> args) {
  const CommandSpec* spec = find_command_spec(command);
  REQUIRE(spec != nullptr);
  std::vector<const char*> argv{"ossrt", command};
  argv.insert(argv.end(), args.begin(), args.end());
  Parsed parsed{ParseOutcome::ok, "", ParsedFlags(*spec)};
  parsed.outcome = parse_command_line(*spec, static_cast<int>(argv.size()), argv.data(), 2, parsed.flags, parsed.error);
  return parsed;
}

// The error a single bad argument list gets.
std::string refusal(const char* command, std::initializer_list<const char*> args) {
  Parsed parsed = parse(command, args);
  CHECK(parsed.outcome == ParseOutcome::usage_error);
  return parsed.error;
}

std::string events_printed(bool show_reasoning, bool dim, const std::vector<ossrt::harmony::ParseEvent>& events,
                           std::string* notes = nullptr) {
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  REQUIRE(out != nullptr);
  REQUIRE(err != nullptr);
  TurnPrinter printer(show_reasoning, dim, out, err);
  for (const auto& event : events) CHECK(printer(event));
  printer.end_turn();
  auto read_all = [](std::FILE* f) {
    std::string text;
    std::rewind(f);
    for (int c; (c = std::fgetc(f)) != EOF;) text += static_cast<char>(c);
    std::fclose(f);
    return text;
  };
  if (notes != nullptr) *notes = read_all(err);
  return read_all(out);
}

ossrt::harmony::ParseEvent event(ossrt::harmony::ParseEvent::Kind kind, std::optional<std::string> channel,
                                 std::string text = "") {
  ossrt::harmony::ParseEvent e;
  e.kind = kind;
  e.channel = std::move(channel);
  e.text = std::move(text);
  return e;
}

}  // namespace

TEST_CASE("flags take values as --name VALUE or --name=VALUE, switches none, and absent ones their defaults") {
  Parsed p =
      parse("chat", {"--model", "dir", "--max-tokens=12", "--stats", "--temperature", "0.5", "--effort", "high"});
  REQUIRE(p.outcome == ParseOutcome::ok);
  CHECK(p.flags.text("model") == "dir");
  CHECK(p.flags.count("max-tokens") == 12u);
  CHECK(p.flags.has("stats"));
  CHECK_FALSE(p.flags.has("show-reasoning"));
  CHECK(p.flags.real("temperature") == 0.5);
  CHECK(p.flags.text("effort") == "high");
  CHECK(p.flags.text("color") == "auto");           // the table's default
  CHECK(p.flags.count("context") == 0u);            // likewise
  CHECK_FALSE(p.flags.text("system").has_value());  // no default
  // A value that starts with -- is written --name=VALUE.
  p = parse("chat", {"--model", "dir", "--prompt=--help"});
  REQUIRE(p.outcome == ParseOutcome::ok);
  CHECK(p.flags.text("prompt") == "--help");
}

TEST_CASE("an unknown flag is refused with the closest known name") {
  CHECK(refusal("generate", {"--model", "m", "--tokens", "1", "--max-tokns", "5"}) ==
        "--max-tokns: unknown flag; did you mean --max-tokens?");
  CHECK(refusal("chat", {"--modle", "m"}) == "--modle: unknown flag; did you mean --model?");
  CHECK(refusal("generate", {"--model", "m", "--tokens", "1", "--temp", "1"}) ==
        "--temp: unknown flag; did you mean --temperature?");
  CHECK(refusal("info", {"--model", "m", "--verbose"}) == "--verbose: unknown flag");
  // A flag of another subcommand is unknown here.
  CHECK(refusal("info", {"--model", "m", "--json"}) == "--json: unknown flag");
}

TEST_CASE("malformed numbers are refused: sign, junk, overflow, zero where positive, not finite") {
  auto max_tokens = [](const char* value) {
    return refusal("generate", {"--model", "m", "--tokens", "1", "--max-tokens", value});
  };
  CHECK(max_tokens("-5") == "--max-tokens: '-5' is not a non-negative integer");
  CHECK(max_tokens("5x") == "--max-tokens: '5x' is not a non-negative integer");
  CHECK(max_tokens("+5") == "--max-tokens: '+5' is not a non-negative integer");
  CHECK(max_tokens(" 5") == "--max-tokens: ' 5' is not a non-negative integer");
  CHECK(max_tokens("") == "--max-tokens: '' is not a non-negative integer");
  CHECK(max_tokens("18446744073709551616") == "--max-tokens: '18446744073709551616' is too large");
  CHECK(refusal("generate", {"--model", "m", "--tokens", "1", "--chunk", "0"}) ==
        "--chunk: '0' is not a positive integer");
  for (const char* bad : {"nan", "inf", "-inf"}) {
    CHECK(refusal("generate", {"--model", "m", "--tokens", "1", "--temperature", bad}) ==
          concat("--temperature: '", bad, "' is not a finite number"));
  }
  CHECK(refusal("generate", {"--model", "m", "--tokens", "1", "--top-p", "1e999"}) ==
        "--top-p: '1e999' is out of range");
  CHECK(refusal("generate", {"--model", "m", "--tokens", "1", "--top-p", "0.9x"}) == "--top-p: '0.9x' is not a number");
  for (const char* bad : {"1,,2", "1,", "-1", "2147483648", "a"}) {
    CHECK(refusal("generate", {"--model", "m", "--tokens", bad}) ==
          concat("--tokens: '", bad, "' is not a comma-separated list of token ids"));
  }
  // A parsed value that the library refuses (a negative temperature) is refused before any model loads.
  Parsed p = parse("generate", {"--model", "m", "--tokens", "1", "--temperature", "-1"});
  REQUIRE(p.outcome == ParseOutcome::ok);
  CHECK_FALSE(sampler_from_flags(p.flags).ok());
}

TEST_CASE("missing values, repeated flags, choices, groups and operands") {
  CHECK(refusal("chat", {"--model"}) == "--model needs a value (PATH)");
  CHECK(refusal("chat", {"--model", "--stats"}) == "--model needs a value (PATH)");
  CHECK(refusal("chat", {"--model", "a", "--model", "b"}) == "--model is given twice");
  CHECK(refusal("chat", {"--model", "a", "--stats=1"}) == "--stats takes no value");
  CHECK(refusal("chat", {"--model", "a", "--effort", "hihg"}) ==
        "--effort: 'hihg' is not one of low, medium, high; did you mean high?");
  CHECK(refusal("chat", {}) == "--model PATH is required");
  CHECK(refusal("generate", {"--model", "m"}) == "one of --tokens, --prompt is required");
  CHECK(refusal("generate", {"--model", "m", "--tokens", "1", "--prompt", "x"}) ==
        "--tokens, --prompt: give only one of them");
  CHECK(refusal("bench", {}) == "one of --synthetic, --model is required");
  CHECK(refusal("info", {"--model", "m", "extra"}) == "unexpected argument 'extra'");
  CHECK(refusal("info", {"-model", "m"}) ==
        "-model: flags start with -- (put -- before an operand that starts with -)");
  CHECK(refusal("tokenize", {}) == "TEXT|- is required");
  CHECK(refusal("tokenize", {"a", "b"}) == "one TEXT|- only: unexpected 'b'");
  CHECK(refusal("detokenize", {"1,x"}) == "ID,...: '1,x' is not a comma-separated list of token ids");
  // The operand may look like a flag after "--", and "-" is an operand.
  Parsed p = parse("tokenize", {"--special", "all", "--", "--help"});
  REQUIRE(p.outcome == ParseOutcome::ok);
  CHECK(p.flags.text("text") == "--help");
  CHECK(p.flags.text("special") == "all");
  p = parse("tokenize", {"-"});
  REQUIRE(p.outcome == ParseOutcome::ok);
  CHECK(p.flags.text("text") == "-");
  p = parse("detokenize", {"1,2,3"});
  REQUIRE(p.outcome == ParseOutcome::ok);
  CHECK(p.flags.ids("ids") == std::vector<ossrt::TokenId>{1, 2, 3});
}

TEST_CASE("--help and -h win over everything else on the line") {
  for (const CommandSpec& spec : command_specs()) {
    CHECK(parse(spec.name, {"--help"}).outcome == ParseOutcome::help);
    CHECK(parse(spec.name, {"-h"}).outcome == ParseOutcome::help);
    CHECK(parse(spec.name, {"--no-such-flag", "-5", "--help"}).outcome == ParseOutcome::help);
  }
}

TEST_CASE("each command's usage lists its synopsis and every flag of its table, with defaults") {
  for (const CommandSpec& spec : command_specs()) {
    const std::string text = usage(spec);
    CAPTURE(spec.name);
    CHECK(text.starts_with("usage: ossrt " + synopsis(spec) + "\n" + spec.summary + "\n"));
    for (const FlagSpec& flag : spec.flags) {
      const std::string label =
          concat("--", flag.name, flag.value_name ? " " : "", flag.value_name ? flag.value_name : "");
      CHECK_MESSAGE(text.find("  " + label + " ") != std::string::npos, label);
      if (flag.default_value != nullptr)
        CHECK(text.find(concat("(default ", flag.default_value, ")")) != std::string::npos);
    }
    if (spec.operand) CHECK(text.find(spec.operand->value_name) != std::string::npos);
    CHECK(text.find("-h, --help") != std::string::npos);
  }
  CHECK(synopsis(*find_command_spec("generate")) ==
        "generate --model PATH (--tokens ID,... | --prompt TEXT) [options]");
  CHECK(synopsis(*find_command_spec("tokenize")) == "tokenize [options] TEXT|-");
  CHECK(synopsis(*find_command_spec("info")) == "info [options]");
  // The chat's own commands are in its --help.
  CHECK(usage(*find_command_spec("chat")).find(slash_command_help()) != std::string::npos);
}

TEST_CASE("suggestions: close misspellings and unique prefixes, nothing for unrelated words") {
  const std::vector<std::string_view> names{"model", "max-tokens", "temperature", "top-k", "top-p"};
  CHECK(closest_match("modle", names) == "model");
  CHECK(closest_match("max_tokens", names) == "max-tokens");
  CHECK(closest_match("temp", names) == "temperature");
  CHECK(closest_match("top", names).empty());  // a prefix of two names: no guess
  CHECK(closest_match("verbose", names).empty());
  CHECK(closest_match("", names).empty());
}

TEST_CASE("chat lines starting with / split into command and argument") {
  CHECK_FALSE(split_slash_line("hello").has_value());
  auto line = split_slash_line("/save  my chat.json  ");
  REQUIRE(line.has_value());
  CHECK(line->name == "save");
  CHECK(line->argument == "my chat.json");
  line = split_slash_line("/tokens");
  REQUIRE(line.has_value());
  CHECK(line->name == "tokens");
  CHECK(line->argument.empty());
  line = split_slash_line("/");
  REQUIRE(line.has_value());
  CHECK(line->name.empty());
  const std::string help = slash_command_help();
  for (const SlashCommandSpec& command : slash_commands())
    CHECK(help.find(concat("/", command.name)) != std::string::npos);
}

TEST_CASE("conversation edits keep the preamble and touch only what they name") {
  Conversation c;
  c.push_back(Message::from_role_and_content(Role::system, ossrt::harmony::SystemContent::defaults()));
  ossrt::harmony::set_reasoning_effort(c, ossrt::harmony::ReasoningEffort::high);
  REQUIRE(c.size() == 1);
  CHECK(std::get<ossrt::harmony::SystemContent>(c[0].content[0]).reasoning_effort ==
        ossrt::harmony::ReasoningEffort::high);

  set_instructions(c, "be brief");
  REQUIRE(c.size() == 2);
  CHECK(c[1].author.role == Role::developer);
  CHECK(std::get<ossrt::harmony::DeveloperContent>(c[1].content[0]).instructions == "be brief");
  set_instructions(c, "be kind");
  REQUIRE(c.size() == 2);
  CHECK(std::get<ossrt::harmony::DeveloperContent>(c[1].content[0]).instructions == "be kind");

  for (const char* text : {"one", "two", "three"}) {
    c.push_back(Message::from_role_and_content(Role::user, text));
    c.push_back(Message::from_role_and_content(Role::assistant, std::string("re: ") + text).with_channel("final"));
  }
  CHECK(preamble_length(c) == 2);
  REQUIRE(drop_oldest_turn(c));
  REQUIRE(c.size() == 6);
  CHECK(c[2].text() == "two");
  clear_turns(c);
  CHECK(c.size() == 2);
  CHECK_FALSE(drop_oldest_turn(c));

  set_instructions(c, "");
  CHECK(c.size() == 1);
  // Without a system message, setting the effort adds one at the front.
  Conversation bare{Message::from_role_and_content(Role::user, "hi")};
  ossrt::harmony::set_reasoning_effort(bare, ossrt::harmony::ReasoningEffort::low);
  REQUIRE(bare.size() == 2);
  CHECK(bare[0].author.role == Role::system);
  CHECK(std::get<ossrt::harmony::SystemContent>(bare[0].content[0]).reasoning_effort ==
        ossrt::harmony::ReasoningEffort::low);
}

TEST_CASE("replies print the final channel; reasoning only when asked, dimmed only when asked") {
  using Kind = ossrt::harmony::ParseEvent::Kind;
  const std::vector<ossrt::harmony::ParseEvent> events{
      event(Kind::message_start, "analysis"),    event(Kind::content_delta, "analysis", "hmm"),
      event(Kind::message_end, "analysis"),      event(Kind::message_start, "final"),
      event(Kind::content_delta, "final", "Hi"), event(Kind::content_delta, "final", "!"),
      event(Kind::message_end, "final"),
  };
  CHECK(events_printed(false, true, events) == "Hi!\n");
  CHECK(events_printed(true, false, events) == "[reasoning] hmm\nHi!\n");
  CHECK(events_printed(true, true, events) == "\x1b[2m[reasoning] hmm\x1b[0m\nHi!\n");
  // A turn cut inside its reasoning still ends the dimming.
  const std::vector<ossrt::harmony::ParseEvent> cut{event(Kind::message_start, "analysis"),
                                                    event(Kind::content_delta, "analysis", "hm")};
  CHECK(events_printed(true, true, cut) == "\x1b[2m[reasoning] hm\x1b[0m\n\n");
  // Tool calls are notes.
  auto call = event(Kind::tool_call, "commentary", "{\"x\":1}");
  call.recipient = "functions.f";
  std::string notes;
  CHECK(events_printed(false, false, {call}, &notes) == "\n");
  CHECK(notes == "[tool call to functions.f: {\"x\":1}]\n");
}

TEST_CASE("/save writes the conversation and the session state; /load resumes both") {
  auto model = ossrt::Model::load(OSSRT_TEST_DATA_DIR "/tiny-a");
  REQUIRE(model.ok());
  auto renderer = ossrt::harmony::Renderer::create();
  REQUIRE(renderer.ok());
  auto saved_session = ossrt::Session::create(model.value());
  REQUIRE(saved_session.ok());
  const std::vector<ossrt::TokenId> tokens{714, 1108, 958, 985, 112};
  REQUIRE(saved_session.value()->append(tokens).ok());
  Conversation saved;
  saved.push_back(Message::from_role_and_content(Role::system, ossrt::harmony::SystemContent::defaults()));
  saved.push_back(Message::from_role_and_content(Role::user, "Hello"));

  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "ossrt-cli-parts-test";
  std::filesystem::create_directories(dir);
  const std::filesystem::path file = dir / "chat.json";
  REQUIRE(save_chat(file, saved, *saved_session.value()).ok());
  CHECK(std::filesystem::exists(session_state_path(file)));

  auto session = ossrt::Session::create(model.value());
  REQUIRE(session.ok());
  Conversation loaded;
  std::string note = "stale";
  REQUIRE(load_chat(file, renderer.value(), loaded, *session.value(), note).ok());
  CHECK(note.empty());
  CHECK(ossrt::harmony::to_json(loaded) == ossrt::harmony::to_json(saved));
  CHECK(std::vector<ossrt::TokenId>(session.value()->tokens().begin(), session.value()->tokens().end()) == tokens);
  CHECK(session.value()->logits().size() == saved_session.value()->logits().size());

  // Without the state the conversation still loads; the session starts empty and the note says why.
  std::filesystem::remove(session_state_path(file));
  REQUIRE(load_chat(file, renderer.value(), loaded, *session.value(), note).ok());
  CHECK(session.value()->tokens().empty());
  CHECK(note.find("chat.json.state") != std::string::npos);

  // Not a conversation: refused, nothing changes.
  std::ofstream(file) << "{\"not\": \"messages\"}";
  REQUIRE(session.value()->append(tokens).ok());
  const std::string before = ossrt::harmony::to_json(loaded);
  auto refused = load_chat(file, renderer.value(), loaded, *session.value(), note);
  CHECK(refused.code() == ossrt::StatusCode::invalid_argument);
  CHECK(ossrt::harmony::to_json(loaded) == before);
  CHECK(session.value()->tokens().size() == tokens.size());
  CHECK(load_chat(dir / "missing.json", renderer.value(), loaded, *session.value(), note).code() ==
        ossrt::StatusCode::io_error);
  std::filesystem::remove_all(dir);
}
