// The JSON-schema constraint engine, keyword by keyword: which byte strings
// a compiled schema accepts as a complete value, which it refuses, and the
// errors for unsupported or invalid schemas.
#include <doctest/doctest.h>

#include <string>

#include "constrain/grammar.h"
#include "constrain/matcher.h"

namespace {

using ossrt::constrain::Grammar;
using ossrt::constrain::Matcher;

std::shared_ptr<const Grammar> compile(const std::string& schema) {
  auto grammar = Grammar::from_json_schema(schema);
  REQUIRE_MESSAGE(grammar.ok(), grammar.status().to_string());
  return grammar.value();
}

// Whether `text` is a complete value of the schema.
bool accepts(const std::shared_ptr<const Grammar>& grammar, const std::string& text) {
  Matcher matcher(grammar);
  return matcher.accept(text) && matcher.is_complete();
}

void check(const std::string& schema, std::initializer_list<const char*> good, std::initializer_list<const char*> bad) {
  auto grammar = compile(schema);
  for (const char* text : good) CHECK_MESSAGE(accepts(grammar, text), schema << " should accept " << text);
  for (const char* text : bad) CHECK_MESSAGE(!accepts(grammar, text), schema << " should refuse " << text);
}

std::string error_of(const std::string& schema) {
  auto grammar = Grammar::from_json_schema(schema);
  return grammar.ok() ? std::string("(compiled)") : grammar.status().message();
}

}  // namespace

TEST_CASE("constrain: types and unions") {
  check(R"({"type":"string"})",
        {R"("")", R"("abc")", R"("a\"b\\c\n\u00e9")", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""},
        {"abc", R"("a)", "\"\x01\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", R"("\ud800")", R"("\x")", "1"});
  check(R"({"type":"integer"})", {"0", "-7", "123456"}, {"01", "1.5", "1e3", "-", "+1", "\"1\""});
  check(R"({"type":"number"})", {"0", "-0.5", "1e10", "2.5E-3", "7"}, {"1.", ".5", "1e", "--1", "0x1"});
  check(R"({"type":"boolean"})", {"true", "false"}, {"tru", "null", "1"});
  check(R"({"type":"null"})", {"null"}, {"nul", "false"});
  check(R"({"type":["string","null"]})", {R"("x")", "null"}, {"1", "true"});
  check(R"({})", {"1", R"({"a":[1,{"b":null}]})", R"("s")", "[]"}, {"", "{", R"({"a" :1})", "[1,]"});
  check(R"(true)", {"[true,false]"}, {"[true"});
}

TEST_CASE("constrain: objects keep the properties' order; optional ones may be skipped") {
  const char* schema = R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},
    "c":{"type":"boolean"}},"required":["a","c"]})";
  check(schema, {R"({"a":1,"c":true})", R"({"a":1,"b":"x","c":false})"},
        {R"({"c":true,"a":1})", R"({"a":1})", R"({"a":1,"b":"x"})", R"({"a":1,"c":true,"d":1})", R"({})",
         R"({"a":1,"a":2,"c":true})", R"({ "a":1,"c":true})"});
  check(R"({"type":"object","properties":{"a":{"type":"integer"}}})", {"{}", R"({"a":2})"}, {R"({"b":2})"});
}

TEST_CASE("constrain: additionalProperties") {
  check(R"({"type":"object","properties":{"a":{"type":"integer"}},"additionalProperties":false})", {R"({"a":1})"},
        {R"({"a":1,"b":2})"});
  const char* extra = R"({"type":"object","properties":{"id":{"type":"integer"}},"required":["id"],
    "additionalProperties":{"type":"string"}})";
  check(extra, {R"({"id":1})", R"({"id":1,"x":"y","zz":""})"},
        {R"({"x":"y","id":1})", R"({"id":1,"x":2})", R"({"id":1,"id":2})", R"({"id":1,"i\u0064":"y"})"});
  check(R"({"type":"object","additionalProperties":true})", {R"({"k":[1,2],"l":{}})"}, {R"({"k":})"});
}

TEST_CASE("constrain: arrays") {
  check(R"({"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3})", {"[1]", "[1,2,3]"},
        {"[]", "[1,2,3,4]", R"(["a"])", "[1,]"});
  check(R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false})",
        {"[]", R"(["a"])", R"(["a",1])"}, {R"(["a",1,2])", R"([1])"});
  check(R"({"type":"array","prefixItems":[{"const":"x"}],"items":{"type":"boolean"}})", {R"(["x",true,false])"},
        {R"([true])"});
}

TEST_CASE("constrain: enum and const") {
  check(R"({"enum":["red","green",3,null,{"k":[1]}]})", {R"("red")", R"("green")", "3", "null", R"({"k":[1]})"},
        {R"("blue")", "4", R"({"k":[2]})", "30"});
  check(R"({"enum":[1,12]})", {"1", "12"}, {"123", "2"});
  check(R"({"type":"string","enum":["a",1]})", {R"("a")"}, {"1"});
  check(R"({"const":"fixed"})", {R"("fixed")"}, {R"("fixe")", R"("fixed2")"});
}

TEST_CASE("constrain: anyOf, oneOf, allOf with one member") {
  const char* schema = R"({"anyOf":[{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]},
    {"type":"object","properties":{"y":{"type":"string"}},"required":["y"]},{"type":"integer"}]})";
  check(schema, {R"({"x":1})", R"({"y":"s"})", "5"}, {R"({"x":"s"})", R"({})", R"("s")"});
  check(R"({"oneOf":[{"type":"string"},{"type":"boolean"}]})", {R"("s")", "true"}, {"1"});
  check(R"({"allOf":[{"type":"integer"}]})", {"1"}, {"true"});
}

TEST_CASE("constrain: $ref and $defs, recursive too") {
  check(R"({"$defs":{"p":{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}},
    "type":"array","items":{"$ref":"#/$defs/p"}})",
        {R"([{"n":1},{"n":2}])"}, {R"([{"m":1}])"});
  const char* tree = R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
    "kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"]}},"$ref":"#/$defs/node"})";
  check(tree, {R"({"v":1})", R"({"v":1,"kids":[{"v":2,"kids":[{"v":3}]},{"v":4}]})"}, {R"({"v":1,"kids":[{"w":2}]})"});
  check(R"({"type":"object","properties":{"self":{"$ref":"#"}}})", {R"({"self":{"self":{}}})"}, {R"({"self":1})"});
}

TEST_CASE("constrain: string lengths, patterns and formats") {
  check(R"({"type":"string","minLength":2,"maxLength":3})", {R"("ab")", "\"\xc3\xa9\xc3\xa9\"", R"("a\nb")"},
        {R"("a")", R"("abcd")", "\"\xc3\xa9\""});
  check(R"({"type":"string","pattern":"^[a-z]+-\\d{2,3}$"})", {R"("ab-12")", R"("x-123")"},
        {R"("ab-1")", R"("AB-12")", R"("ab-1234")", R"("ab-12 ")"});
  check(R"({"type":"string","pattern":"(cat|dog)s?"})", {R"("cat")", R"("hotdogs!")"}, {R"("cow")"});
  check(R"({"type":"string","pattern":"^a.c$"})", {R"("abc")", R"("a c")"}, {R"("a\"c")", R"("ac")"});
  check(R"({"type":"string","pattern":"^(ab)*$","maxLength":4})", {R"("")", R"("abab")"}, {R"("ababab")"});
  check(R"({"type":"string","format":"date"})", {R"("2024-02-28")"}, {R"("2024-13-01")", R"("2024-2-28")"});
  check(R"({"type":"string","format":"date-time"})", {R"("2024-02-28T23:59:59Z")", R"("2024-01-01T00:00:00.5+05:30")"},
        {R"("2024-02-28T24:00:00Z")", R"("2024-02-28 23:59:59")"});
  check(R"({"type":"string","format":"uuid"})", {R"("123e4567-e89b-12d3-a456-426614174000")"},
        {R"("123e4567-e89b-12d3-a456-42661417400")"});
  check(R"({"type":"string","format":"email"})", {R"("a.b+c@example.co")"}, {R"("a@b")", R"(".a@b.co")"});
}

TEST_CASE("constrain: integer bounds") {
  check(R"({"type":"integer","minimum":-5,"maximum":120})", {"-5", "0", "7", "120", "99"},
        {"-6", "121", "1000", "-10"});
  check(R"({"type":"integer","exclusiveMinimum":0,"exclusiveMaximum":10})", {"1", "9"}, {"0", "10", "-1"});
  check(R"({"type":"integer","minimum":100})", {"100", "123456789"}, {"99", "-100"});
  // A prefix that no bounded integer continues is refused at once.
  Matcher matcher(compile(R"({"type":"integer","minimum":10,"maximum":20})"));
  CHECK(!matcher.allows_byte('3'));
  CHECK(!matcher.allows_byte('-'));
  CHECK(matcher.allows_byte('1'));
}

TEST_CASE("constrain: checkpoint and rollback") {
  Matcher matcher(compile(R"({"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]})"));
  CHECK(matcher.accept(R"({"a":)"));
  const size_t mark = matcher.checkpoint();
  CHECK(matcher.accept("12}"));
  CHECK(matcher.is_complete());
  CHECK(!matcher.accept("}"));
  matcher.rollback_to(mark);
  CHECK(!matcher.is_complete());
  CHECK(!matcher.accept("\"x\""));
  CHECK(matcher.accept("3}"));
  CHECK(matcher.is_complete());
}

TEST_CASE("constrain: unsupported keywords are named, invalid schemas give the byte position") {
  CHECK(error_of(R"({"type":"string","not":{}})") == "schema at byte 17: unsupported keyword 'not'");
  CHECK(error_of(R"({"type":"object","minProperties":1})") == "schema at byte 17: unsupported keyword 'minProperties'");
  CHECK(error_of(R"({"type":"strin"})") == "schema at byte 8: unknown type 'strin'");
  CHECK(error_of(R"({"type":"number","minimum":1})") ==
        "schema at byte 27: 'minimum' is supported only with type 'integer'");
  CHECK(error_of(R"({"type":"string","format":"uri"})") == "schema at byte 26: unsupported format 'uri'");
  CHECK(error_of(R"({"$ref":"#/$defs/missing"})") == "schema at byte 8: '$ref' '#/$defs/missing' does not resolve");
  CHECK(error_of(R"({"anyOf":[{"$ref":"#"}]})") == "schema refers to itself without consuming input (a $ref cycle)");
  CHECK(error_of(R"js({"type":"string","pattern":"(?=a)"})js").find("schema at byte 27: pattern at character 0") == 0);
  CHECK(error_of(R"({"type":"object","required":["x"]})") ==
        "schema at byte 29: required property 'x' is not in 'properties'");
  CHECK(error_of(R"({"type":"string" "x":1})").rfind("invalid JSON at byte ", 0) == 0);
  CHECK(error_of(R"({"type":"string"} x)").rfind("invalid JSON at byte 18: ", 0) == 0);
  CHECK(error_of("") == "invalid JSON at byte 0: the schema is empty");
  CHECK(error_of(" \n") == "invalid JSON at byte 2: the schema is empty");
  // Found by fuzz.schema: invalid UTF-8 fails before a document exists.
  CHECK(error_of("{\"type\":\xb2\"object\"}").rfind("invalid JSON at byte 8: ", 0) == 0);
}
