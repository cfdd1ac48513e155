// harmony's StreamableParser, token by token, with a lenient mode that
// recovers from every malformed shape the model emits instead of failing.
#include <algorithm>

#include "harmony/header_parser.h"
#include "ossrt/harmony.hpp"
#include "tokenizer/utf8.h"
#include "util/errors.h"
#include "util/strings.h"

namespace ossrt::harmony {
namespace {

constexpr std::string_view kReplacement = "\xef\xbf\xbd";

// Rust's Debug form of Some(string), which harmony puts in its leftover-header error.
std::string rust_debug_some(const std::string& text) {
  std::string out = "Some(\"";
  append_escaped(out, text, EscapeStyle::rust_debug);
  return out + "\")";
}

}  // namespace

struct StreamParser::Impl {
  std::shared_ptr<const Tokenizer> tokenizer;
  ParseMode mode;
  TokenId start_id, message_id, channel_id;
  std::vector<TokenId> stop_ids;

  std::optional<Role> next_role;  // role of the header being read when the header itself need not name it
  Role fallback_role;             // lenient: role for headers that name none
  ParserState state;
  std::vector<TokenId> tokens;
  std::vector<Message> messages;
  std::vector<TokenId> header_tokens;
  ParsedHeader header;
  std::string content;
  std::optional<std::string> last_delta;
  std::vector<TokenId> undecoded_tokens;  // harmony modes: content ids not yet decodable
  std::string undecoded_bytes;            // bytes of an incomplete UTF-8 sequence
  bool in_stray_run = false;
  Status failure;
  std::vector<ParseEvent>* events = nullptr;

  Impl(std::shared_ptr<const Tokenizer> tok, std::optional<Role> role, ParseMode parse_mode)
      : tokenizer(std::move(tok)),
        mode(parse_mode),
        start_id(tokenizer->special_id(SpecialToken::start)),
        message_id(tokenizer->special_id(SpecialToken::message)),
        channel_id(tokenizer->special_id(SpecialToken::channel)),
        stop_ids{tokenizer->special_id(SpecialToken::return_), tokenizer->special_id(SpecialToken::call),
                 tokenizer->special_id(SpecialToken::end)},
        next_role(role),
        fallback_role(role.value_or(Role::assistant)),
        state(role ? ParserState::header : ParserState::expect_start) {}

  bool lenient() const { return mode == ParseMode::lenient; }
  bool is_stop(TokenId id) const { return std::find(stop_ids.begin(), stop_ids.end(), id) != stop_ids.end(); }
  size_t position() const { return tokens.empty() ? 0 : tokens.size() - 1; }

  ParseEvent& emit(ParseEvent::Kind kind) {
    static thread_local ParseEvent discarded;
    if (!events) return discarded = ParseEvent{};
    events->emplace_back();
    ParseEvent& event = events->back();
    event.kind = kind;
    event.position = position();
    event.message_index = messages.size();
    return event;
  }

  void anomaly(AnomalyKind kind, std::string text) {
    ParseEvent& event = emit(ParseEvent::Kind::anomaly);
    event.anomaly = kind;
    event.text = std::move(text);
  }

  // Copies the header fields of a Message or a ParsedHeader (same member names).
  template <class Header>
  static void describe(ParseEvent& event, const Header& header) {
    event.role = header.author.role;
    event.name = header.author.name;
    event.channel = header.channel;
    event.recipient = header.recipient;
    event.content_type = header.content_type;
  }

  Message header_message(std::string text) const {
    Message message;
    message.author = header.author;
    message.recipient = header.recipient;
    message.channel = header.channel;
    message.content_type = header.content_type;
    message.content.push_back(TextContent{std::move(text)});
    return message;
  }

  void complete(Message message) {
    ParseEvent& end = emit(ParseEvent::Kind::message_end);
    describe(end, message);
    if (auto call = as_tool_call(message)) {
      ParseEvent& event = emit(ParseEvent::Kind::tool_call);
      describe(event, message);
      event.text = call->arguments;
    }
    messages.push_back(std::move(message));
  }

  // Header bytes as text: harmony refuses what is not UTF-8; lenient repairs it.
  Result<std::string> decode_header() {
    auto bytes = tokenizer->decode(header_tokens);
    if (bytes.ok() && utf8::is_valid(bytes.value())) return std::move(bytes).value();
    if (!lenient()) return Status(StatusCode::invalid_argument, "could not decode header");
    anomaly(AnomalyKind::undecodable_header, "");
    return tokenizer->decode_lossy(header_tokens);
  }

  std::vector<HeaderAnomaly>* anomaly_sink(std::vector<HeaderAnomaly>& sink) { return lenient() ? &sink : nullptr; }

  void report(const std::vector<HeaderAnomaly>& found) {
    for (const HeaderAnomaly& a : found) anomaly(a.kind, a.text);
  }

  void begin_header() {
    state = ParserState::header;
    header_tokens.clear();
    in_stray_run = false;
  }

  Status on_message_token() {
    auto text = decode_header();
    if (!text.ok()) return text.status();
    std::vector<HeaderAnomaly> found;
    auto parsed = parse_header(std::move(text).value(), next_role, true, anomaly_sink(found), fallback_role);
    if (!parsed.ok()) return parsed.status();
    report(found);
    if (parsed.value().remaining) {
      if (!lenient())
        return error(StatusCode::invalid_argument, "unexpected tokens remaining in message header: %s",
                     rust_debug_some(*parsed.value().remaining).c_str());
      anomaly(AnomalyKind::header_leftover, *parsed.value().remaining);
    }
    header = std::move(parsed.value().header);
    next_role.reset();
    state = ParserState::content;
    content.clear();
    describe(emit(ParseEvent::Kind::message_start), header);
    return Status();
  }

  // A header that ended without <|message|>: harmony's non-strict rule keeps
  // it as a message whose content is the words after the header fields, when
  // the role is known. Lenient also keeps it when the header names the role.
  Status on_header_without_message(AnomalyKind kind) {
    anomaly(kind, tokenizer->decode_lossy(header_tokens));
    if (!header_tokens.empty() && (next_role || lenient())) {
      auto text = decode_header();
      if (!text.ok()) return text.status();
      std::vector<HeaderAnomaly> found;
      auto parsed = parse_header(std::move(text).value(), next_role, false, anomaly_sink(found), fallback_role);
      if (!parsed.ok()) return parsed.status();
      report(found);
      header = std::move(parsed.value().header);
      Message message = header_message(parsed.value().remaining.value_or(""));
      describe(emit(ParseEvent::Kind::message_start), message);
      if (!message.text().empty()) {
        ParseEvent& delta = emit(ParseEvent::Kind::content_delta);
        describe(delta, message);
        delta.text = message.text();
      }
      complete(std::move(message));
    }
    next_role.reset();
    state = ParserState::expect_start;
    header_tokens.clear();
    return Status();
  }

  // Moves the complete UTF-8 prefix of undecoded_bytes into the content, with
  // harmony's per-token rule: at most one invalid subpart becomes U+FFFD per
  // token; an incomplete tail waits.
  void absorb_bytes() {
    std::string delta;
    size_t i = 0, invalid = 0;
    while (i < undecoded_bytes.size()) {
      const size_t n = utf8::valid_sequence_length(undecoded_bytes, i, invalid);
      if (n == 0) break;
      i += n;
    }
    delta.append(undecoded_bytes, 0, i);
    bool waiting = false;
    if (i < undecoded_bytes.size()) {
      const auto lead = static_cast<unsigned char>(undecoded_bytes[i]);
      if (lead >= 0xc2 && lead <= 0xf4 && i + invalid == undecoded_bytes.size()) {
        waiting = true;
      } else {
        delta += kReplacement;
        i += invalid;
      }
    }
    undecoded_bytes.erase(0, i);
    content += delta;
    if (delta.empty() && waiting) {
      last_delta.reset();
    } else {
      last_delta = delta;
      // Each delta names its message, so a listener can route it without
      // remembering the last message_start.
      ParseEvent& event = emit(ParseEvent::Kind::content_delta);
      describe(event, header);
      event.text = std::move(delta);
    }
  }

  void on_content_token(TokenId token) {
    if (lenient()) {
      // An id outside the vocabulary stands for one invalid byte, so it
      // becomes U+FFFD in place instead of holding back what follows.
      auto bytes = tokenizer->token_bytes(token);
      if (!bytes.ok()) anomaly(AnomalyKind::invalid_token, std::to_string(token));
      undecoded_bytes += bytes.ok() ? bytes.value() : std::string_view("\xff");
      absorb_bytes();
      return;
    }
    // harmony: ids are decoded together; one unknown id holds back the rest.
    undecoded_tokens.push_back(token);
    auto bytes = tokenizer->decode(undecoded_tokens);
    if (!bytes.ok()) {
      last_delta.reset();
      return;
    }
    undecoded_bytes += bytes.value();
    undecoded_tokens.clear();
    absorb_bytes();
  }

  void end_content() {
    std::string text = std::move(content);
    if (!undecoded_tokens.empty()) text += kReplacement;
    text += utf8::replace_invalid(undecoded_bytes);
    complete(header_message(std::move(text)));
    state = ParserState::expect_start;
    last_delta.reset();
    undecoded_tokens.clear();
    undecoded_bytes.clear();
    content.clear();
  }

  Status step(std::optional<TokenId> token) {
    switch (state) {
      case ParserState::expect_start:
        if (!token) return Status();
        if (*token == start_id) {
          begin_header();
        } else if (!lenient()) {
          return error(StatusCode::invalid_argument, "Unexpected token %d while expecting start token %d", *token,
                       start_id);
        } else if (*token == channel_id) {
          // "<|end|><|channel|>final…": the model skipped "<|start|>assistant".
          anomaly(AnomalyKind::missing_start, "");
          begin_header();
          next_role = messages.empty() ? fallback_role : messages.back().author.role;
          header_tokens.push_back(*token);
        } else if (!in_stray_run) {
          in_stray_run = true;
          anomaly(AnomalyKind::stray_token, tokenizer->decode_lossy(std::span<const TokenId>(&*token, 1)));
        }
        return Status();
      case ParserState::header:
        if (!token) {
          if (!lenient())
            return Status(StatusCode::invalid_argument, "Unexpected EOS while waiting for message header to complete");
          if (header_tokens.empty()) return Status();
          return on_header_without_message(AnomalyKind::missing_message);
        }
        if (*token == message_id) return on_message_token();
        if (mode != ParseMode::strict && is_stop(*token))
          return on_header_without_message(AnomalyKind::missing_message);
        if (lenient() && *token == start_id) {
          if (header_tokens.empty()) {
            anomaly(AnomalyKind::doubled_start, "");
            return Status();
          }
          if (Status status = on_header_without_message(AnomalyKind::doubled_start); !status.ok()) return status;
          begin_header();
          return Status();
        }
        header_tokens.push_back(*token);
        return Status();
      case ParserState::content:
        if (!token || is_stop(*token)) {
          end_content();
        } else if (lenient() && *token == start_id) {
          // "<|start|>" inside content: the model forgot <|end|>.
          anomaly(AnomalyKind::missing_end, "");
          end_content();
          begin_header();
        } else {
          on_content_token(*token);
        }
        return Status();
    }
    return Status();
  }

  Status process(std::optional<TokenId> token, std::vector<ParseEvent>* sink) {
    if (!failure.ok()) return failure;
    events = sink;
    if (token) tokens.push_back(*token);
    Status status = step(token);
    events = nullptr;
    if (!status.ok()) failure = status;
    return status;
  }
};

StreamParser::StreamParser(std::shared_ptr<const Tokenizer> tokenizer, std::optional<Role> role, ParseMode mode)
    : impl_(std::make_unique<Impl>(std::move(tokenizer), role, mode)) {}
StreamParser::~StreamParser() = default;
StreamParser::StreamParser(StreamParser&&) noexcept = default;
StreamParser& StreamParser::operator=(StreamParser&&) noexcept = default;

Status StreamParser::push(TokenId token, std::vector<ParseEvent>* events) noexcept {
  return guard("StreamParser::push", [&] { return impl_->process(token, events); });
}

Status StreamParser::finish(std::vector<ParseEvent>* events) noexcept {
  return guard("StreamParser::finish", [&] { return impl_->process(std::nullopt, events); });
}

ParserState StreamParser::state() const noexcept {
  return impl_->state;
}

std::optional<Role> StreamParser::current_role() const {
  return impl_->state == ParserState::content ? std::optional<Role>(impl_->header.author.role) : impl_->next_role;
}

std::optional<std::string> StreamParser::current_channel() const {
  return impl_->state == ParserState::content ? impl_->header.channel : std::nullopt;
}

std::optional<std::string> StreamParser::current_recipient() const {
  return impl_->state == ParserState::content ? impl_->header.recipient : std::nullopt;
}

std::optional<std::string> StreamParser::current_content_type() const {
  return impl_->state == ParserState::content ? impl_->header.content_type : std::nullopt;
}

std::string StreamParser::current_content() const {
  return impl_->state == ParserState::content ? impl_->content : std::string();
}

const std::optional<std::string>& StreamParser::last_content_delta() const noexcept {
  return impl_->last_delta;
}
const std::vector<Message>& StreamParser::messages() const noexcept {
  return impl_->messages;
}
const std::vector<TokenId>& StreamParser::tokens() const noexcept {
  return impl_->tokens;
}
std::vector<Message> StreamParser::take_messages() noexcept {
  return std::move(impl_->messages);
}

const char* parser_state_name(ParserState state) noexcept {
  switch (state) {
    case ParserState::expect_start:
      return "ExpectStart";
    case ParserState::header:
      return "Header";
    case ParserState::content:
      return "Content";
  }
  return "ExpectStart";
}

const char* anomaly_kind_name(AnomalyKind kind) noexcept {
  switch (kind) {
    case AnomalyKind::missing_message:
      return "missing_message";
    case AnomalyKind::stray_token:
      return "stray_token";
    case AnomalyKind::missing_start:
      return "missing_start";
    case AnomalyKind::doubled_start:
      return "doubled_start";
    case AnomalyKind::bad_channel:
      return "bad_channel";
    case AnomalyKind::unknown_role:
      return "unknown_role";
    case AnomalyKind::header_leftover:
      return "header_leftover";
    case AnomalyKind::undecodable_header:
      return "undecodable_header";
    case AnomalyKind::invalid_token:
      return "invalid_token";
    case AnomalyKind::missing_end:
      return "missing_end";
    case AnomalyKind::bad_recipient:
      return "bad_recipient";
  }
  return "unknown";
}

Result<std::vector<Message>> parse_messages_from_completion_tokens(std::shared_ptr<const Tokenizer> tokenizer,
                                                                   std::span<const TokenId> tokens,
                                                                   std::optional<Role> role, ParseMode mode) noexcept {
  return guard("parse_messages_from_completion_tokens", [&]() -> Result<std::vector<Message>> {
    StreamParser parser(std::move(tokenizer), role, mode);
    for (TokenId token : tokens)
      if (Status status = parser.push(token); !status.ok()) return status;
    if (Status status = parser.finish(); !status.ok()) return status;
    return parser.take_messages();
  });
}

}  // namespace ossrt::harmony
