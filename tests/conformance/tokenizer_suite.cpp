// The tokenizer suite: every vector of a JSONL file in the format of
// tests/data/tokenizer/vectors.jsonl (id, special none|all, text or
// bytes_b64, ids, optional decodes_to). Encodes with the vector's special
// mode (from the raw bytes when bytes_b64 is present) and decodes back.
#include <simdjson.h>

#include <cstdio>
#include <string>
#include <vector>

#include "ossrt/tokenizer.hpp"
#include "suites.h"
#include "util/base64.h"

namespace conformance {
namespace {}  // namespace

int run_tokenizer(int argc, char** argv, Report& report) {
  std::vector<std::string> files;
  for (int i = 0; i < argc; ++i) {
    if (std::string(argv[i]) == "--vectors" && i + 1 < argc)
      files.push_back(argv[++i]);
    else {
      std::fprintf(stderr, "tokenizer: usage: --vectors FILE [--vectors FILE ...]\n");
      return 2;
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "tokenizer: usage: --vectors FILE [--vectors FILE ...]\n");
    return 2;
  }
  auto tokenizer = ossrt::Tokenizer::o200k_harmony();
  if (!tokenizer.ok()) {
    report.check(false, "tokenizer: %s", tokenizer.status().to_string().c_str());
    return 0;
  }
  const ossrt::Tokenizer& tok = *tokenizer.value();
  for (const std::string& file : files) {
    simdjson::dom::parser parser;
    simdjson::dom::document_stream stream;
    simdjson::padded_string content;
    if (simdjson::padded_string::load(file).get(content) || parser.parse_many(content).get(stream)) {
      report.check(false, "%s: cannot read", file.c_str());
      return 2;
    }
    size_t line = 0;
    for (auto document : stream) {
      ++line;
      simdjson::dom::element v;
      std::string_view id, special, text, bytes_b64, decodes_to;
      simdjson::dom::array ids_array;
      if (document.get(v) || v["id"].get_string().get(id) || v["special"].get_string().get(special) ||
          v["text"].get_string().get(text) || v["ids"].get_array().get(ids_array)) {
        report.check(false, "%s:%zu: malformed vector", file.c_str(), line);
        continue;
      }
      std::vector<ossrt::TokenId> expected;
      for (auto x : ids_array) expected.push_back(static_cast<ossrt::TokenId>(int64_t(x)));
      const auto allowed = special == "all" ? ossrt::AllowedSpecials::all() : ossrt::AllowedSpecials::none();
      // Raw-byte vectors go through the bytes entry point (WHATWG decoding), text through encode.
      const bool raw = v["bytes_b64"].get_string().get(bytes_b64) == simdjson::SUCCESS;
      std::string raw_bytes;
      if (raw && !ossrt::base64_decode(bytes_b64, raw_bytes)) {
        report.check(false, "%.*s: bytes_b64 is not base64", static_cast<int>(id.size()), id.data());
        continue;
      }
      auto encoded = raw ? tok.encode_bytes(raw_bytes, allowed) : tok.encode(text, allowed);
      if (!encoded.ok()) {
        report.check(false, "%.*s encode: %s", static_cast<int>(id.size()), id.data(),
                     encoded.status().to_string().c_str());
        continue;
      }
      const size_t diff = first_difference(encoded.value(), expected);
      const bool encode_ok = encoded.value() == expected;
      std::string want_text(text);
      if (v["decodes_to"].get_string().get(decodes_to) == simdjson::SUCCESS) want_text = std::string(decodes_to);
      auto decoded = tok.decode(expected);
      const bool decode_ok = decoded.ok() && decoded.value() == want_text;
      if (encode_ok && decode_ok) {
        ++report.passed;  // one quiet line per vector would drown the failures
        continue;
      }
      if (!encode_ok) {
        report.check(false, "%.*s encode: first difference at token %zu: got %d, want %d (got %zu tokens, want %zu)",
                     static_cast<int>(id.size()), id.data(), diff,
                     diff < encoded.value().size() ? encoded.value()[diff] : -1,
                     diff < expected.size() ? expected[diff] : -1, encoded.value().size(), expected.size());
      } else {
        std::string got = decoded.ok() ? decoded.value() : decoded.status().to_string();
        const size_t at = first_difference(got, want_text);
        report.check(false, "%.*s decode: first difference at byte %zu", static_cast<int>(id.size()), id.data(), at);
      }
    }
    std::printf("%s: %zu vectors\n", file.c_str(), line);
  }
  return 0;
}

}  // namespace conformance
