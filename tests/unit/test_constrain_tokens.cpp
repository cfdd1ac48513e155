// The constraint engine over the o200k_harmony vocabulary: the cached and
// walked masks agree with a token-by-token oracle, and random walks over the
// schema corpus (tests/data/constrain/schemas.jsonl) end in JSON that parses
// and that the schema's matcher accepts. tests/constrain/ajv_check.sh
// validates the same kind of outputs with an independent validator (ajv).
#include <doctest/doctest.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "constrain/token_mask.h"
#include "constrain_walk.hpp"
#include "ossrt/json.hpp"

namespace {

using namespace ossrt::constrain;

std::shared_ptr<const TokenVocabulary> vocabulary() {
  auto vocab = TokenVocabulary::o200k_harmony();
  REQUIRE_MESSAGE(vocab.ok(), vocab.status().to_string());
  return vocab.value();
}

std::vector<std::string> corpus() {
  std::ifstream in(std::string(OSSRT_TEST_DATA_DIR) + "/constrain/schemas.jsonl");
  std::vector<std::string> schemas;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) schemas.push_back(line);
  REQUIRE(schemas.size() >= 20);
  return schemas;
}

// The oracle: a token is in the mask iff the matcher accepts its bytes.
void check_mask_against_oracle(TokenMatcher& matcher, const TokenVocabulary& vocab) {
  TokenMask mask(vocab.vocab_size());
  matcher.fill_mask(mask);
  Matcher& bytes = matcher.byte_matcher();
  const size_t mark = bytes.checkpoint();
  size_t mismatches = 0;
  for (size_t id = 0; id < vocab.vocab_size(); ++id) {
    const auto token = static_cast<ossrt::TokenId>(id);
    const bool accepted = !vocab.is_special(token) && bytes.accept(vocab.bytes(token));
    if (accepted) bytes.rollback_to(mark);
    if (accepted != mask.test(token) && ++mismatches <= 3)
      FAIL_CHECK("token " << id << " '" << vocab.bytes(token) << "': oracle " << accepted << ", mask "
                          << mask.test(token));
  }
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("constrain: masks equal the token-by-token oracle along random walks") {
  auto vocab = vocabulary();
  const std::vector<std::string> schemas = corpus();
  std::mt19937_64 rng(29);
  // A few schemas cover strings (plain, bounded, pattern, free keys), numbers, literals and anyOf threads.
  for (size_t index : {0u, 1u, 4u, 7u, 8u, 18u}) {
    CAPTURE(schemas[index]);
    auto grammar = Grammar::from_json_schema(schemas[index]);
    REQUIRE(grammar.ok());
    TokenMatcher matcher(vocab, grammar.value());
    auto walk = ossrt::test::random_constrained_walk(matcher, *vocab, rng, false, 12, 40);
    // Replay the walk and compare at a few of its states.
    TokenMatcher replay(vocab, grammar.value());
    for (size_t i = 0; i <= walk.tokens.size(); ++i) {
      if (i % 8 == 0) {
        check_mask_against_oracle(replay, *vocab);
      }
      if (i < walk.tokens.size()) REQUIRE(replay.accept_token(walk.tokens[i]));
    }
  }
}

// Strings with a pattern or format and length limits: the cached masks
// apply, per count, the limits the matcher checks after every byte (the
// fewest and most bytes the pattern still needs), so they equal the oracle
// at every step and a walk never reaches a dead end.
TEST_CASE("constrain: pattern and format strings with length limits: masks equal the oracle at every step") {
  auto vocab = vocabulary();
  std::mt19937_64 rng(31);
  const char* const schemas[] = {
      R"({"type":"string","format":"email","maxLength":12})",
      R"({"type":"string","pattern":"^[a-z]+[0-9]*$","minLength":5,"maxLength":9})",
      R"({"type":"string","pattern":"^(ab|[0-9]{2,6})$","minLength":4})",
      (R"({"type":"object","properties":{"id":{"type":"string","format":"uuid","maxLength":36},)"
       R"("mail":{"type":"string","format":"email","minLength":8,"maxLength":20}},"required":["id","mail"]})"),
  };
  for (const char* schema : schemas) {
    CAPTURE(schema);
    auto grammar = Grammar::from_json_schema(schema);
    REQUIRE(grammar.ok());
    for (int run = 0; run < 2; ++run) {
      TokenMatcher matcher(vocab, grammar.value());
      auto walk = ossrt::test::random_constrained_walk(matcher, *vocab, rng, run == 1, 12, 60);
      CHECK_FALSE(walk.dead_end);
      TokenMatcher replay(vocab, grammar.value());
      for (size_t i = 0; i <= walk.tokens.size(); ++i) {
        check_mask_against_oracle(replay, *vocab);
        if (i < walk.tokens.size()) REQUIRE(replay.accept_token(walk.tokens[i]));
      }
    }
  }
}

TEST_CASE("constrain: random walks over the schema corpus end in valid JSON") {
  auto vocab = vocabulary();
  std::mt19937_64 rng(2029);
  size_t walks = 0, completed = 0;
  for (const std::string& schema : corpus()) {
    CAPTURE(schema);
    auto grammar = Grammar::from_json_schema(schema);
    REQUIRE_MESSAGE(grammar.ok(), grammar.status().to_string());
    for (int round = 0; round < 6; ++round) {
      TokenMatcher matcher(vocab, grammar.value());
      auto walk = ossrt::test::random_constrained_walk(matcher, *vocab, rng, round % 2 == 1, 30, 300);
      CAPTURE(walk.text);
      CHECK(!walk.dead_end);
      ++walks;
      if (!walk.complete) continue;
      ++completed;
      CHECK_MESSAGE(ossrt::JsonValue::parse(walk.text).ok(), walk.text);
      Matcher again(grammar.value());
      CHECK(again.accept(walk.text));
      CHECK(again.is_complete());
      // Rolling every token back returns to the start.
      matcher.rollback(walk.tokens.size());
      CHECK(matcher.accepted_count() == 0);
    }
  }
  CHECK(completed * 10 >= walks * 9);
}

TEST_CASE("constrain: special tokens are never in the mask") {
  auto vocab = vocabulary();
  auto grammar = Grammar::any_json();
  REQUIRE(grammar.ok());
  TokenMatcher matcher(vocab, grammar.value());
  TokenMask mask(vocab->vocab_size());
  matcher.fill_mask(mask);
  for (ossrt::TokenId id = 199998; id < 201088; ++id) CHECK_FALSE(mask.test(id));
  CHECK(!matcher.accept_token(200012));
  CHECK(mask.count() > 1000);
}
