// The harmony suite: render and parse cases in the format of
// tests/data/harmony/*.jsonl, and harmony's own test-data files.
//
// render: ids must equal expected_tokens (and decode to expected_text), or
//   rendering must fail when expected_error is set; the conversation must
//   also survive a round trip through our JSON writer.
// parse: messages (and, in stream mode, per-token deltas, states and the
//   message in progress) must match; errors must occur where expected. Every
//   case harmony parses is also run in lenient mode, which must agree.
// raw: expected renderings are compared with the render case that names the
//   file (or, without one, re-rendered from their own parse); token-id and
//   parser-input files are parsed and compared with the parse case of the same
//   name when there is one.
#include <dirent.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "ossrt/harmony.hpp"
#include "suites.h"

namespace conformance {
namespace {

using namespace ossrt;
using namespace ossrt::harmony;

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  out = buffer.str();
  return true;
}

bool load_cases(const std::string& path, std::vector<JsonValue>& cases, Report& report) {
  std::string text;
  if (!read_file(path, text)) {
    report.check(false, "%s: cannot read", path.c_str());
    return false;
  }
  std::istringstream lines(text);
  std::string line;
  size_t number = 0;
  while (std::getline(lines, line)) {
    ++number;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto value = JsonValue::parse(line, 256);
    if (!value.ok() || !value.value().find("id")) {
      report.check(false, "%s:%zu: malformed case", path.c_str(), number);
      continue;
    }
    cases.push_back(std::move(value).value());
  }
  return true;
}

std::string string_field(const JsonValue& value, const char* key) {
  const JsonValue* field = value.find(key);
  return field && field->is_string() ? field->as_string() : std::string();
}

bool is_set(const JsonValue& value, const char* key) {
  const JsonValue* field = value.find(key);
  return field && !field->is_null();
}

std::vector<TokenId> ids_field(const JsonValue& value, const char* key) {
  std::vector<TokenId> ids;
  if (const JsonValue* field = value.find(key))
    for (const JsonValue& id : field->items()) {
      const std::string text = id.dump();
      ids.push_back(static_cast<TokenId>(static_cast<uint32_t>(std::stoull(text))));
    }
  return ids;
}

std::string id_at(const std::vector<TokenId>& ids, size_t i) {
  return i < ids.size() ? std::to_string(ids[i]) : std::string("(end)");
}

// Messages normalised through our own JSON writer, for comparison.
std::string messages_json(const JsonValue& expected) {
  auto conversation = conversation_from_json_value(expected);
  return conversation.ok() ? to_json(conversation.value()) : "(unreadable: " + conversation.status().message() + ")";
}

std::optional<Role> role_field(const JsonValue& value) {
  const JsonValue* role = value.find("role");
  if (!role || !role->is_string()) return std::nullopt;
  return role_from_name(role->as_string());
}

// harmony's tests compare test-data files after stripping trailing whitespace.
std::string rstrip(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

std::string show(const std::optional<std::string>& text) {
  return text ? "\"" + *text + "\"" : "null";
}

class HarmonySuite {
 public:
  HarmonySuite(Renderer renderer, Report& report) : renderer_(std::move(renderer)), report_(report) {}

  std::vector<JsonValue> render_cases, parse_cases;

  void run_render_case(const JsonValue& c) {
    const std::string id = string_field(c, "id");
    auto conversation = conversation_from_json_value(*c.find("messages"));
    auto rendered =
        conversation.ok() ? render_case(c, conversation.value()) : Result<std::vector<TokenId>>(conversation.status());
    if (is_set(c, "expected_error")) {
      report_.check(!rendered.ok(), "render %s: must fail (%s)%s%s", id.c_str(),
                    string_field(c, "expected_error").c_str(), rendered.ok() ? "" : ": failed with ",
                    rendered.ok() ? "" : rendered.status().message().c_str());
      return;
    }
    if (!rendered.ok()) {
      report_.check(false, "render %s: %s", id.c_str(), rendered.status().to_string().c_str());
      return;
    }
    const std::vector<TokenId> expected = ids_field(c, "expected_tokens");
    const std::vector<TokenId>& got = rendered.value();
    if (got != expected) {
      const size_t i = first_difference(got, expected);
      report_.check(false, "render %s: ids differ at %zu of %zu: got %s, expected %s; got text from there: %s",
                    id.c_str(), i, expected.size(), id_at(got, i).c_str(), id_at(expected, i).c_str(),
                    tail_text(got, i).c_str());
      return;
    }
    std::string problem;
    if (renderer_.tokenizer()->decode_lossy(got) != string_field(c, "expected_text"))
      problem = "ids match but decode differs from expected_text";
    const JsonValue* equal = c.find("tokens_equal_encode_all_of_text");
    if (problem.empty() && equal && equal->is_bool() && equal->as_bool()) {
      auto encoded = renderer_.tokenizer()->encode(string_field(c, "expected_text"), AllowedSpecials::all());
      if (!encoded.ok() || encoded.value() != expected) problem = "encoding expected_text with specials differs";
    }
    if (problem.empty()) {
      auto round_trip = conversation_from_json(to_json(conversation.value()));
      if (!round_trip.ok() || render_case(c, round_trip.value()).value() != expected)
        problem = "the conversation renders differently after a JSON round trip";
    }
    report_.check(problem.empty(), "render %s%s%s", id.c_str(), problem.empty() ? "" : ": ", problem.c_str());
  }

  void run_parse_case(const JsonValue& c) {
    const std::string id = string_field(c, "id");
    const JsonValue* strict = c.find("strict");
    const ParseMode mode =
        strict && strict->is_bool() && !strict->as_bool() ? ParseMode::harmony_lenient : ParseMode::strict;
    const bool expect_error = is_set(c, "expected_error");
    std::string problem = parse_problem(c, mode);
    report_.check(problem.empty(), "parse %s%s%s", id.c_str(), problem.empty() ? "" : ": ", problem.c_str());
    if (!expect_error) {
      problem = parse_problem(c, ParseMode::lenient);
      report_.check(problem.empty(), "parse %s (lenient agrees)%s%s", id.c_str(), problem.empty() ? "" : ": ",
                    problem.c_str());
    }
  }

  void run_raw_file(const std::string& path) {
    std::string text;
    const std::string name = path.substr(path.find_last_of('/') + 1);
    if (!read_file(path, text)) {
      report_.check(false, "raw %s: cannot read", name.c_str());
      return;
    }
    std::string stem = name.substr(0, name.rfind('.'));
    if (stem.rfind("test_", 0) == 0) stem = stem.substr(5);
    const bool only_ids = text.find_first_not_of("0123456789 \t\r\n") == std::string::npos;
    const bool parser_input = name == "test_tool_response_parsing.txt" || name == "test_streamable_parser.txt";
    if (only_ids || parser_input) {
      std::vector<TokenId> ids;
      if (only_ids) {
        std::istringstream in(text);
        for (long long id; in >> id;) ids.push_back(static_cast<TokenId>(id));
      } else {
        auto encoded = renderer_.tokenizer()->encode(rstrip(text), AllowedSpecials::all());
        if (encoded.ok()) ids = std::move(encoded).value();
      }
      run_raw_parse(name, stem, ids);
      return;
    }
    run_raw_rendering(name, text);
  }

 private:
  Renderer renderer_;
  Report& report_;

  Result<std::vector<TokenId>> render_case(const JsonValue& c, const Conversation& conversation) {
    RenderConversationConfig config;
    const JsonValue* drop = c.find("auto_drop_analysis");
    config.auto_drop_analysis = drop && drop->is_bool() && drop->as_bool();
    const std::string kind = string_field(c, "kind");
    if (kind == "completion") {
      auto role = role_from_name(string_field(c, "next_role"));
      if (!role) return Status(StatusCode::invalid_argument, "case has no valid next_role");
      return renderer_.render_conversation_for_completion(conversation, *role, config);
    }
    if (kind == "training") return renderer_.render_conversation_for_training(conversation, config);
    return renderer_.render_conversation(conversation, config);
  }

  std::string tail_text(const std::vector<TokenId>& ids, size_t from) {
    std::vector<TokenId> tail(ids.begin() + static_cast<std::ptrdiff_t>(std::min(from, ids.size())), ids.end());
    std::string text = renderer_.tokenizer()->decode_lossy(tail);
    return "\"" + text.substr(0, 120) + "\"";
  }

  // Empty when the case holds in `mode`, else what differs first.
  std::string parse_problem(const JsonValue& c, ParseMode mode) {
    const std::vector<TokenId> tokens = ids_field(c, "tokens");
    const bool stream = string_field(c, "mode") == "stream";
    StreamParser parser(renderer_.tokenizer(), role_field(c), mode);
    std::vector<std::optional<std::string>> deltas;
    std::vector<std::string> states;
    Status status;
    for (TokenId token : tokens) {
      status = parser.push(token);
      if (!status.ok()) break;
      deltas.push_back(parser.last_content_delta());
      states.push_back(parser_state_name(parser.state()));
    }
    if (status.ok() && !stream) status = parser.finish();
    const bool expect_error = is_set(c, "expected_error") && mode != ParseMode::lenient;
    if (expect_error) {
      if (status.ok()) return "parsed, but harmony fails with: " + string_field(c, "expected_error");
      if (const JsonValue* before = c.find("messages_before_error"))
        if (to_json(parser.messages()) != messages_json(*before))
          return "messages before the error differ: got " + to_json(parser.messages());
      if (status.message() != string_field(c, "expected_error"))
        std::printf("note: %s: error wording differs: got \"%s\", harmony \"%s\"\n", string_field(c, "id").c_str(),
                    status.message().c_str(), string_field(c, "expected_error").c_str());
      return "";
    }
    if (!status.ok()) return "failed: " + status.message();
    if (const JsonValue* expected = c.find("expected_messages"); expected && !expected->is_null()) {
      const std::string got = to_json(parser.messages()), want = messages_json(*expected);
      if (got != want) return "messages differ:\n  got      " + got + "\n  expected " + want;
    }
    if (!stream) return "";
    if (const JsonValue* expected = c.find("expected_deltas"))
      for (size_t i = 0; i < expected->items().size() && i < deltas.size(); ++i) {
        const JsonValue& want = expected->items()[i];
        const std::optional<std::string> want_delta =
            want.is_string() ? std::optional<std::string>(want.as_string()) : std::nullopt;
        if (deltas[i] != want_delta)
          return "delta after token " + std::to_string(i) + ": got " + show(deltas[i]) + ", expected " +
                 show(want_delta);
      }
    if (const JsonValue* expected = c.find("expected_states"))
      for (size_t i = 0; i < expected->items().size() && i < states.size(); ++i)
        if (states[i] != expected->items()[i].as_string())
          return "state after token " + std::to_string(i) + ": got " + states[i] + ", expected " +
                 expected->items()[i].as_string();
    if (const JsonValue* current = c.find("expected_current"); current && current->is_object()) {
      const auto role = parser.current_role();
      const std::optional<std::string> got_role = role ? std::optional<std::string>(role_name(*role)) : std::nullopt;
      auto field = [&](const char* key) {
        const JsonValue* v = current->find(key);
        return v && v->is_string() ? std::optional<std::string>(v->as_string()) : std::nullopt;
      };
      const std::pair<const char*, std::optional<std::string>> checks[] = {
          {"state", std::string(parser_state_name(parser.state()))},
          {"role", got_role},
          {"channel", parser.current_channel()},
          {"recipient", parser.current_recipient()},
          {"content_type", parser.current_content_type()},
          {"content", parser.current_content()},
      };
      for (const auto& [key, got] : checks)
        if (got != field(key))
          return std::string("current ") + key + ": got " + show(got) + ", expected " + show(field(key));
    }
    return "";
  }

  const JsonValue* find_case(const std::vector<JsonValue>& cases, const char* key, const std::string& value) {
    for (const JsonValue& c : cases)
      if (string_field(c, key) == value) return &c;
    return nullptr;
  }

  void run_raw_parse(const std::string& name, const std::string& stem, const std::vector<TokenId>& ids) {
    const std::optional<Role> role = !ids.empty() && ids[0] == renderer_.tokenizer()->special_id(SpecialToken::start)
                                         ? std::nullopt
                                         : std::optional<Role>(Role::assistant);
    auto messages = parse_messages_from_completion_tokens(renderer_.tokenizer(), ids, role, ParseMode::strict);
    if (!messages.ok()) {
      report_.check(false, "raw %s: %s", name.c_str(), messages.status().message().c_str());
      return;
    }
    const JsonValue* c = find_case(parse_cases, "id", stem);
    if (c && c->find("expected_messages") && !c->find("expected_messages")->is_null()) {
      const std::string got = to_json(messages.value()), want = messages_json(*c->find("expected_messages"));
      report_.check(got == want, "raw %s (parse case %s)%s%s", name.c_str(), stem.c_str(), got == want ? "" : ": got ",
                    got == want ? "" : got.c_str());
      return;
    }
    report_.check(!messages.value().empty(), "raw %s: parses into %zu messages", name.c_str(), messages.value().size());
  }

  void run_raw_rendering(const std::string& name, const std::string& text) {
    const std::string expected = rstrip(text);
    if (const JsonValue* c = find_case(render_cases, "harmony_test_data_file", name)) {
      auto conversation = conversation_from_json_value(*c->find("messages"));
      auto rendered = conversation.ok() ? render_case(*c, conversation.value())
                                        : Result<std::vector<TokenId>>(conversation.status());
      const std::string got = rendered.ok() ? rstrip(renderer_.tokenizer()->decode_lossy(rendered.value())) : "";
      const size_t i = first_difference(got, expected);
      report_.check(rendered.ok() && got == expected, "raw %s (render case %s)%s%s", name.c_str(),
                    string_field(*c, "id").c_str(), got == expected ? "" : ": differs from byte ",
                    got == expected ? "" : (std::to_string(i) + ": \"" + got.substr(i, 80) + "\"").c_str());
      return;
    }
    // No case names the file: the completed messages it holds must render back to the same text.
    auto ids = renderer_.tokenizer()->encode(expected, AllowedSpecials::all());
    StreamParser parser(renderer_.tokenizer(), std::nullopt, ParseMode::strict);
    Status status = ids.ok() ? Status() : ids.status();
    for (size_t i = 0; status.ok() && i < ids.value().size(); ++i) status = parser.push(ids.value()[i]);
    auto rendered = renderer_.render_conversation(parser.messages(), RenderConversationConfig{false});
    const std::string got = rendered.ok() ? renderer_.tokenizer()->decode_lossy(rendered.value()) : "";
    report_.check(status.ok() && !got.empty() && expected.compare(0, got.size(), got) == 0,
                  "raw %s: its %zu messages render back to the same text", name.c_str(), parser.messages().size());
  }
};

void add_path(const std::string& path, std::vector<std::string>& files) {
  if (DIR* dir = opendir(path.c_str())) {
    std::vector<std::string> names;
    while (dirent* entry = readdir(dir)) {
      const std::string name = entry->d_name;
      if (name.size() > 4 && name.compare(name.size() - 4, 4, ".txt") == 0) names.push_back(path + "/" + name);
    }
    closedir(dir);
    std::sort(names.begin(), names.end());
    files.insert(files.end(), names.begin(), names.end());
  } else {
    files.push_back(path);
  }
}

}  // namespace

int run_harmony(int argc, char** argv, Report& report) {
  std::vector<std::string> render_files, parse_files, raw_files;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (i + 1 >= argc || (arg != "--render" && arg != "--parse" && arg != "--raw")) {
      std::fprintf(stderr, "harmony: usage: [--render FILE]... [--parse FILE]... [--raw FILE|DIR]...\n");
      return 2;
    }
    const std::string value = argv[++i];
    if (arg == "--render") render_files.push_back(value);
    if (arg == "--parse") parse_files.push_back(value);
    if (arg == "--raw") add_path(value, raw_files);
  }
  auto renderer = Renderer::create();
  if (!renderer.ok()) {
    report.check(false, "harmony: %s", renderer.status().to_string().c_str());
    return 0;
  }
  HarmonySuite suite(std::move(renderer).value(), report);
  for (const std::string& file : render_files)
    if (!load_cases(file, suite.render_cases, report)) return 2;
  for (const std::string& file : parse_files)
    if (!load_cases(file, suite.parse_cases, report)) return 2;
  for (const JsonValue& c : suite.render_cases) suite.run_render_case(c);
  for (const JsonValue& c : suite.parse_cases) suite.run_parse_case(c);
  for (const std::string& file : raw_files) suite.run_raw_file(file);
  return 0;
}

}  // namespace conformance
