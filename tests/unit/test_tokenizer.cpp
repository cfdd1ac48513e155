// o200k_harmony tokenizer behaviour beyond the encode vectors: invalid UTF-8,
// specials by meaning and by name, decoding contracts, streaming decode.
#include <doctest/doctest.h>
#include <simdjson.h>

#include <string>
#include <vector>

#include "ossrt/model.hpp"
#include "ossrt/tokenizer.hpp"
#include "tokenizer/utf8.h"

using namespace ossrt;

namespace {

const Tokenizer& tok() {
  static auto instance = Tokenizer::o200k_harmony();
  REQUIRE(instance.ok());
  return *instance.value();
}

std::vector<TokenId> encode(std::string_view text, const AllowedSpecials& allowed = AllowedSpecials::none()) {
  auto ids = tok().encode(text, allowed);
  REQUIRE(ids.ok());
  return ids.value();
}

}  // namespace

TEST_CASE("invalid UTF-8: each maximal invalid subpart becomes one U+FFFD") {
  const std::string r = "\xef\xbf\xbd";
  CHECK(utf8::replace_invalid("a\x80z") == "a" + r + "z");
  CHECK(utf8::replace_invalid("\xe2\x82") == r);  // truncated 3-byte sequence: one subpart
  CHECK(utf8::replace_invalid("\xe2\x82z") == r + "z");
  CHECK(utf8::replace_invalid("\xed\xa0\x80") == r + r + r);          // CESU surrogate: ED is only valid before 80..9F
  CHECK(utf8::replace_invalid("\xc0\xaf") == r + r);                  // overlong: C0 is never valid
  CHECK(utf8::replace_invalid("\xf4\x90\x80\x80") == r + r + r + r);  // above U+10FFFF
  CHECK(utf8::replace_invalid("\xf0\x9f\x98") == r);
  CHECK(utf8::replace_invalid("ok \xf0\x9f\x98\x80") == "ok \xf0\x9f\x98\x80");
  // Encoding raw bytes applies the same rule, and drops a leading BOM signature.
  CHECK(tok().encode_bytes("\xef\xbb\xbfhi").value() == encode("hi"));
  CHECK(encode("\xef\xbb\xbfhi") != encode("hi"));  // as text, U+FEFF is a character
  CHECK(tok().encode("a\xff").value() == encode("a" + r));
}

TEST_CASE("special tokens by meaning, by name, and as text") {
  CHECK(tok().special_id(SpecialToken::start) == 200006);
  CHECK(tok().special_id(SpecialToken::channel) == 200005);
  CHECK(tok().special_id(SpecialToken::message) == 200008);
  CHECK(tok().special_id(SpecialToken::end) == 200007);
  CHECK(tok().special_id(SpecialToken::return_) == 200002);
  CHECK(tok().special_id(SpecialToken::call) == 200012);
  CHECK(tok().special_id(SpecialToken::constrain) == 200003);
  CHECK(tok().vocab_size() == 201088);
  CHECK(tok().ordinary_token_count() == 199998);
  CHECK(tok().find_special("<|endofprompt|>").value() == 200018);
  CHECK(tok().find_special("<|reserved_200018|>").value() == 200018);
  CHECK(tok().find_special("<|nope|>").status().code() == StatusCode::invalid_argument);

  CHECK(encode("<|start|>") == std::vector<TokenId>{27, 91, 5236, 91, 29});  // ordinary text by default
  CHECK(encode("<|start|>user", AllowedSpecials::all()) == std::vector<TokenId>{200006, 1428});
  CHECK(encode("<|endofprompt|>", AllowedSpecials::all()) == std::vector<TokenId>{200018});
  // An explicit set: only <|end|> is special here.
  const auto only_end = AllowedSpecials::only({200007});
  CHECK(encode("<|start|>x<|end|>", only_end) == [&] {
    std::vector<TokenId> v = encode("<|start|>x");
    v.push_back(200007);
    return v;
  }());
  // Unterminated or unknown markers stay text.
  CHECK(encode("<|start", AllowedSpecials::all()) == encode("<|start"));
  CHECK(encode("<|foo<|end|>", AllowedSpecials::all()).back() == 200007);
}

TEST_CASE("every special id of the reference table, both directions") {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  REQUIRE(parser.load(OSSRT_TEST_DATA_DIR "/tokenizer/o200k_harmony_special.json").get(root) == simdjson::SUCCESS);
  size_t count = 0;
  for (simdjson::dom::element entry : root["special_tokens"].get_array()) {
    const auto id = static_cast<TokenId>(int64_t(entry["id"]));
    const std::string_view text = entry["text"].get_string();
    CHECK(tok().find_special(text).value() == id);
    CHECK(tok().token_bytes(id).value() == text);
    CHECK(encode(text, AllowedSpecials::all()) == std::vector<TokenId>{id});
    ++count;
  }
  CHECK(count == 1090);
}

TEST_CASE("decoding: ids outside the vocabulary are statuses or U+FFFD") {
  const std::vector<TokenId> bad = {13225, 201088};
  auto decoded = tok().decode(bad);
  CHECK(decoded.status().code() == StatusCode::invalid_token);
  CHECK(decoded.status().message().find("index 1") != std::string::npos);
  CHECK(tok().token_bytes(-1).status().code() == StatusCode::invalid_token);
  CHECK(tok().decode_lossy(std::vector<TokenId>{13225, -5}) == "Hello\xef\xbf\xbd");
  CHECK(tok().decode(std::vector<TokenId>{200018}).value() == "<|reserved_200018|>");
}

TEST_CASE("streaming decode holds partial characters across tokens") {
  auto shared = Tokenizer::o200k_harmony();
  REQUIRE(shared.ok());
  const std::string text = "Hi 👩‍💻 日本語 done";
  const std::vector<TokenId> ids = encode(text);
  StreamDecoder stream(shared.value());
  std::string out;
  for (TokenId id : ids) {
    const size_t before = out.size();
    REQUIRE(stream.push(id, out).ok());
    CHECK(utf8::is_valid(std::string_view(out).substr(before)));  // only complete characters come out
  }
  stream.finish(out);
  CHECK(out == text);
  // The byte-level token for a lone continuation byte can never complete: U+FFFD, then an unknown id.
  TokenId continuation = -1;
  for (TokenId id = 0; id < 256 && continuation < 0; ++id) {
    if (tok().token_bytes(id).value() == "\x80") continuation = id;
  }
  REQUIRE(continuation >= 0);
  StreamDecoder broken(shared.value());
  std::string got;
  REQUIRE(broken.push(continuation, got).ok());
  CHECK(got == "\xef\xbf\xbd");
  REQUIRE(broken.push(encode("\xe6\x97\xa5")[0], got).ok());  // a whole CJK character after it
  CHECK(broken.push(999999, got).code() == StatusCode::invalid_token);
  broken.finish(got);
  CHECK(got == "\xef\xbf\xbd\xe6\x97\xa5");
}

TEST_CASE("a long single piece and adversarial input encode and round-trip") {
  std::vector<std::string> inputs = {std::string(200000, 'a'),  // one pre-token: BPE must not be quadratic
                                     std::string(100000, ' '), std::string()};
  for (int i = 0; i < 20000; ++i) inputs.back() += static_cast<char>(i % 251 + 1);  // control chars, bytes >= 0x80
  for (const std::string& s : inputs) {
    auto ids = tok().encode(s);
    REQUIRE(ids.ok());
    CHECK(tok().decode_lossy(ids.value()) == utf8::replace_invalid(s));
  }
  CHECK(encode("").empty());
  CHECK(tok().decode(std::vector<TokenId>{}).value().empty());
  CHECK(encode(std::string("a\0b", 3)).size() >= 2);  // NUL is ordinary text
}

TEST_CASE("a 100 MB input encodes and decodes back exactly") {
  const std::string unit =
      "Lorem ipsum dolor sit amet, 日本語のテキスト 👩‍💻 {\"k\": [1, 2, 3]}\n\tcode();  ";
  std::string big;
  big.reserve(100u << 20);
  while (big.size() + unit.size() <= (100u << 20)) big += unit;
  auto ids = tok().encode(big);
  REQUIRE(ids.ok());
  CHECK(ids.value().size() > big.size() / 8);
  auto decoded = tok().decode(ids.value());
  REQUIRE(decoded.ok());
  CHECK(decoded.value() == big);
}

TEST_CASE("many special-token openers with specials allowed stay linear and exact") {
  std::string openers;
  for (int i = 0; i < 200000; ++i) openers += "<|";
  openers += "end|>";
  auto ids = tok().encode(openers, AllowedSpecials::all());
  REQUIRE(ids.ok());
  CHECK(ids.value().back() == 200007);  // the last "<|" opens <|end|>
  CHECK(tok().decode(ids.value()).value() == openers);
}

TEST_CASE("the model hands out the same tokenizer instance") {
  auto model = Model::load(OSSRT_TEST_DATA_DIR "/tiny-a");
  REQUIRE(model.ok());
  auto from_model = model.value()->tokenizer();
  auto shared = Tokenizer::o200k_harmony();
  REQUIRE(from_model.ok());
  REQUIRE(shared.ok());
  CHECK(from_model.value().get() == shared.value().get());
}
