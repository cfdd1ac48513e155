// HarmonyScope: where the JSON mask applies in a harmony assistant turn,
// checked against the runtime bugs other engines shipped (reasoning
// constrained too, headers masked, empty output, the schema ignored), and
// random sampling (temperature 1 and 1.5) through the real Sampler over
// masked logits ending in JSON that a hand-written check of each schema
// accepts.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "constrain/compiled_cache.h"
#include "constrain/harmony_scope.h"
#include "ossrt/json.hpp"
#include "ossrt/sampler.hpp"

using namespace ossrt;
using namespace ossrt::constrain;
using harmony::ParseEvent;
using harmony::StreamParser;

namespace {

std::shared_ptr<const Tokenizer> tokenizer() {
  return Tokenizer::o200k_harmony().value();
}

TokenId special(SpecialToken token) {
  return tokenizer()->special_id(token);
}

std::vector<TokenId> encode(const std::string& text) {
  auto ids = tokenizer()->encode(text, AllowedSpecials::all());
  REQUIRE(ids.ok());
  return ids.value();
}

std::shared_ptr<const Grammar> grammar(const std::string& schema) {
  auto compiled = cached_grammar(schema);
  REQUIRE_MESSAGE(compiled.ok(), compiled.status().to_string());
  return compiled.value();
}

// A parser and a scope fed together, as chat_turn feeds them.
struct ScopedStream {
  StreamParser parser{tokenizer(), harmony::Role::assistant};
  HarmonyScope scope;
  std::vector<ParseEvent> events;

  explicit ScopedStream(ScopeGrammars grammars)
      : scope(TokenVocabulary::o200k_harmony().value(), std::move(grammars), special(SpecialToken::return_),
              special(SpecialToken::call)) {}

  void push(TokenId token) {
    events.clear();
    REQUIRE(parser.push(token, &events).ok());
    scope.observe(token, parser.state(), events);
  }
  // Pushes every token, checking that none of them was constrained.
  void push_free(const std::string& text) {
    for (TokenId token : encode(text)) {
      CHECK_MESSAGE(!scope.constrained(), "constrained before token " << token << " of " << text);
      push(token);
    }
  }
};

// Logits one past the tokenizer's vocabulary too (models pad theirs).
std::vector<float> flat_logits() {
  return std::vector<float>(tokenizer()->vocab_size() + 16, 0.0f);
}

bool allowed(std::span<const float> masked, TokenId id) {
  return std::isfinite(masked[static_cast<size_t>(id)]);
}

const char* const kPerson = R"({"type":"object","properties":{"name":{"type":"string","maxLength":12},)"
                            R"("age":{"type":"integer","minimum":0,"maximum":150},"member":{"type":"boolean"}},)"
                            R"("required":["name","age","member"]})";

}  // namespace

TEST_CASE("scope: analysis and headers are free, the final message is constrained, <|return|> only when complete") {
  ScopeGrammars grammars;
  grammars.response_format = grammar(kPerson);
  ScopedStream stream(grammars);
  stream.push_free("<|channel|>analysis<|message|>The user wants JSON. {not json<|end|>");
  stream.push_free("<|start|>assistant<|channel|>final<|message|>");
  REQUIRE(stream.scope.constrained());
  const std::vector<float> logits = flat_logits();

  auto masked = stream.scope.masked(logits);
  CHECK_FALSE(allowed(masked, special(SpecialToken::return_)));  // no empty answer
  CHECK_FALSE(allowed(masked, special(SpecialToken::end)));
  CHECK_FALSE(allowed(masked, special(SpecialToken::call)));
  CHECK_FALSE(allowed(masked, special(SpecialToken::start)));
  CHECK_FALSE(allowed(masked, static_cast<TokenId>(tokenizer()->vocab_size())));
  CHECK(allowed(masked, encode("{\"")[0]));
  CHECK_FALSE(allowed(masked, encode("Sure")[0]));

  const std::vector<TokenId> answer = encode(R"({"name":"Ada","age":36,"member":true})");
  for (size_t i = 0; i < answer.size(); ++i) {
    masked = stream.scope.masked(logits);
    CHECK(allowed(masked, answer[i]));
    CHECK_FALSE(allowed(masked, special(SpecialToken::return_)));
    stream.push(answer[i]);
    REQUIRE(stream.scope.constrained());
  }
  CHECK(stream.scope.complete());
  masked = stream.scope.masked(logits);
  size_t finite = 0;
  for (float logit : masked) finite += std::isfinite(logit);
  CHECK(finite == 1);  // a complete object: only <|return|>
  CHECK(allowed(masked, special(SpecialToken::return_)));
  stream.push(special(SpecialToken::return_));
  CHECK_FALSE(stream.scope.constrained());
  CHECK(stream.scope.refused_tokens() == 0);
  REQUIRE(stream.parser.messages().size() == 2);
  CHECK(stream.parser.messages()[1].text() == R"({"name":"Ada","age":36,"member":true})");
}

TEST_CASE("scope: a final header with <|constrain|>json is constrained too; masked() leaves free logits alone") {
  ScopeGrammars grammars;
  grammars.response_format = grammar(R"({"type":"boolean"})");
  ScopedStream stream(grammars);
  const std::vector<float> logits = flat_logits();
  CHECK(stream.scope.masked(logits).data() == logits.data());
  stream.push_free("<|channel|>final <|constrain|>json<|message|>");
  REQUIRE(stream.scope.constrained());
  auto masked = stream.scope.masked(logits);
  CHECK(allowed(masked, encode("true")[0]));
  CHECK_FALSE(allowed(masked, encode("1")[0]));
}

TEST_CASE("scope: strict tools' arguments are constrained and end with <|call|>; other messages stay free") {
  ScopeGrammars grammars;
  grammars.strict_tools["functions.lookup"] =
      grammar(R"({"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]})");
  ScopedStream stream(grammars);
  // No response format: the final answer is free.
  stream.push_free("<|channel|>commentary<|message|>Looking it up.<|end|>");
  stream.push_free(
      "<|start|>assistant to=functions.other<|channel|>commentary <|constrain|>json<|message|>{x}<|call|>");
  stream.push_free("<|start|>assistant<|channel|>commentary to=functions.lookup <|constrain|>json<|message|>");
  REQUIRE(stream.scope.constrained());
  const std::vector<float> logits = flat_logits();
  for (TokenId token : encode(R"({"id":7})")) {
    CHECK_FALSE(allowed(stream.scope.masked(logits), special(SpecialToken::call)));
    stream.push(token);
  }
  auto masked = stream.scope.masked(logits);
  CHECK(allowed(masked, special(SpecialToken::call)));
  CHECK_FALSE(allowed(masked, special(SpecialToken::return_)));
  stream.push(special(SpecialToken::call));
  CHECK_FALSE(stream.scope.constrained());
  stream.push_free("<|start|>assistant<|channel|>final<|message|>Plain text.<|return|>");
}

namespace {

size_t code_points(const std::string& text) {
  size_t n = 0;
  for (unsigned char c : text) n += (c & 0xc0) != 0x80;
  return n;
}

bool is_hex(char c) {
  return std::isxdigit(static_cast<unsigned char>(c)) != 0;
}

bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i)
    if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !is_hex(s[i])) return false;
  return true;
}

bool is_date(const std::string& s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  const int month = std::stoi(s.substr(5, 2)), day = std::stoi(s.substr(8, 2));
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

bool is_integer_in(const JsonValue& v, long long lo, long long hi) {
  if (v.type() != JsonValue::Type::integer && v.type() != JsonValue::Type::unsigned_integer) return false;
  const long long value = std::stoll(v.dump());
  return value >= lo && value <= hi;
}

bool only_keys(const JsonValue& object, std::initializer_list<std::string_view> keys) {
  for (const auto& member : object.members())
    if (std::find(keys.begin(), keys.end(), member.key) == keys.end()) return false;
  return true;
}

struct SchemaCase {
  const char* schema;
  bool (*valid)(const JsonValue&);
};

// Each schema with its own check, written from the schema's meaning.
const SchemaCase kCases[] = {
    {kPerson,
     [](const JsonValue& v) {
       const JsonValue *name = v.find("name"), *age = v.find("age"), *member = v.find("member");
       return v.is_object() && only_keys(v, {"name", "age", "member"}) && name && name->is_string() &&
              code_points(name->as_string()) <= 12 && age && is_integer_in(*age, 0, 150) && member && member->is_bool();
     }},
    {R"({"type":"array","items":{"enum":["red","green","blue"]},"minItems":1,"maxItems":4})",
     [](const JsonValue& v) {
       if (!v.is_array() || v.items().empty() || v.items().size() > 4) return false;
       for (const JsonValue& item : v.items())
         if (!item.is_string() ||
             (item.as_string() != "red" && item.as_string() != "green" && item.as_string() != "blue"))
           return false;
       return true;
     }},
    {R"({"anyOf":[{"type":"null"},{"type":"object","properties":{"id":{"type":"string","format":"uuid"}},)"
     R"("required":["id"]}]})",
     [](const JsonValue& v) {
       if (v.is_null()) return true;
       const JsonValue* id = v.find("id");
       return v.is_object() && only_keys(v, {"id"}) && id && id->is_string() && is_uuid(id->as_string());
     }},
    {R"({"type":"object","properties":{"tags":{"type":"array","items":{"type":"string","maxLength":6},)"
     R"("maxItems":3},"date":{"type":"string","format":"date"}},"required":["date"]})",
     [](const JsonValue& v) {
       const JsonValue *tags = v.find("tags"), *date = v.find("date");
       if (!v.is_object() || !only_keys(v, {"tags", "date"}) || !date || !date->is_string() ||
           !is_date(date->as_string()))
         return false;
       if (tags == nullptr) return true;
       if (!tags->is_array() || tags->items().size() > 3) return false;
       for (const JsonValue& tag : tags->items())
         if (!tag.is_string() || code_points(tag.as_string()) > 6) return false;
       return true;
     }},
};

}  // namespace

TEST_CASE("scope: sampling random logits through the mask ends in valid JSON, <|return|> never early") {
  const std::vector<float> base = flat_logits();
  const TokenId return_id = special(SpecialToken::return_);
  for (const SchemaCase& c : kCases) {
    for (float temperature : {1.0f, 1.5f}) {
      for (uint64_t seed : {1u, 2u, 3u}) {
        CAPTURE(c.schema);
        CAPTURE(temperature);
        CAPTURE(seed);
        ScopeGrammars grammars;
        grammars.response_format = grammar(c.schema);
        ScopedStream stream(grammars);
        stream.push_free("<|channel|>analysis<|message|>Thinking.<|end|><|start|>assistant<|channel|>final<|message|>");
        SamplerOptions options;
        options.temperature = temperature;
        options.seed = seed;
        const Sampler sampler = Sampler::create(options).value();
        // A fixed random preference per token, as a model has, over the mask.
        std::mt19937_64 rng(seed * 977 + static_cast<uint64_t>(temperature * 10));
        std::normal_distribution<float> noise(0.0f, 3.0f);
        std::vector<float> logits = base;
        for (float& logit : logits) logit = noise(rng);
        std::vector<TokenId> history;
        bool returned = false;
        for (size_t step = 0; step < 2000 && !returned; ++step) {
          REQUIRE(stream.scope.constrained());
          const bool complete = stream.scope.complete();
          auto next = sampler.sample(stream.scope.masked(logits), history, step);
          REQUIRE(next.ok());
          returned = next.value() == return_id;
          if (returned) CHECK(complete);
          history.push_back(next.value());
          stream.push(next.value());
        }
        REQUIRE(returned);
        CHECK(stream.scope.refused_tokens() == 0);
        REQUIRE(stream.parser.messages().size() == 2);
        const std::string text = stream.parser.messages()[1].text();
        auto parsed = JsonValue::parse(text);
        REQUIRE_MESSAGE(parsed.ok(), text);
        CHECK_MESSAGE(c.valid(parsed.value()), text);
      }
    }
  }
}

TEST_CASE("compiled cache: the same schema text gives the same grammar; errors carry the byte position") {
  CHECK(grammar(kPerson) == grammar(kPerson));
  auto bad = cached_grammar(R"({"type":"object","not":{}})");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().code() == StatusCode::invalid_argument);
  CHECK(bad.status().message().find("byte") != std::string::npos);
  auto vocabulary = cached_vocabulary(tokenizer());
  REQUIRE(vocabulary.ok());
  CHECK(vocabulary.value() == TokenVocabulary::o200k_harmony().value());
  CHECK_FALSE(cached_vocabulary(nullptr).ok());
}
