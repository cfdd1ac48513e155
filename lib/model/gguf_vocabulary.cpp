#include "model/gguf_vocabulary.h"

#include <array>

#include "util/errors.h"

namespace ossrt {
namespace {

// Code point of each byte in the byte-level alphabet.
std::array<uint32_t, 256> byte_code_points() {
  std::array<uint32_t, 256> points{};
  uint32_t next = 256;
  for (uint32_t b = 0; b < 256; ++b) {
    const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    points[b] = printable ? b : next++;
  }
  return points;
}

void append_utf8(uint32_t point, std::string& out) {
  if (point < 0x80) {
    out += static_cast<char>(point);
  } else {  // the alphabet stays below U+0800
    out += static_cast<char>(0xc0 | (point >> 6));
    out += static_cast<char>(0x80 | (point & 0x3f));
  }
}

// Keys naming one special id each, as llama.cpp writes them.
constexpr const char* kSpecialIdKeys[] = {
    "tokenizer.ggml.bos_token_id",       "tokenizer.ggml.eos_token_id",     "tokenizer.ggml.eot_token_id",
    "tokenizer.ggml.eom_token_id",       "tokenizer.ggml.padding_token_id", "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.seperator_token_id",
};

}  // namespace

std::string byte_level_spelling(std::string_view bytes) {
  static const std::array<uint32_t, 256> points = byte_code_points();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) append_utf8(points[static_cast<unsigned char>(c)], out);
  return out;
}

Status check_gguf_vocabulary(const GgufFile& gguf, const Tokenizer& tokenizer, int64_t vocab_size,
                             const std::string& source) {
  for (const char* key : kSpecialIdKeys) {
    if (gguf.find(key) == nullptr) continue;
    Result<uint64_t> id = gguf.get_uint(key);
    if (!id.ok() || id.value() >= static_cast<uint64_t>(vocab_size)) {
      return error(StatusCode::invalid_checkpoint, "%s: key '%s' does not name a token id below the vocabulary's %lld",
                   source.c_str(), key, static_cast<long long>(vocab_size));
    }
  }
  if (gguf.find("tokenizer.ggml.tokens") == nullptr) return Status::success();
  Result<std::span<const std::string_view>> tokens = gguf.get_strings("tokenizer.ggml.tokens");
  if (!tokens.ok()) return error(StatusCode::invalid_checkpoint, "%s", std::string(tokens.status().message()).c_str());
  const std::span<const std::string_view> names = tokens.value();
  if (static_cast<int64_t>(names.size()) != vocab_size || static_cast<size_t>(vocab_size) > tokenizer.vocab_size()) {
    return error(StatusCode::invalid_checkpoint,
                 "%s: tokenizer.ggml.tokens has %zu tokens, the embedding %lld rows (o200k_harmony has %zu): not "
                 "gpt-oss's vocabulary",
                 source.c_str(), names.size(), static_cast<long long>(vocab_size), tokenizer.vocab_size());
  }
  for (size_t id = 0; id < names.size(); ++id) {
    const auto token = static_cast<TokenId>(id);
    Result<std::string_view> bytes = tokenizer.token_bytes(token);
    if (!bytes.ok()) return bytes.status();
    bool same;
    std::string expected;
    if (tokenizer.is_special(token)) {
      Result<TokenId> named = tokenizer.find_special(names[id]);
      same = (named.ok() && named.value() == token) || names[id] == "[PAD" + std::to_string(id) + "]";
      expected = std::string(bytes.value());
    } else {
      expected = byte_level_spelling(bytes.value());
      same = names[id] == expected;
    }
    if (!same) {
      return error(StatusCode::invalid_checkpoint,
                   "%s: token %zu of tokenizer.ggml.tokens is '%.*s' where o200k_harmony has '%s': not gpt-oss's "
                   "vocabulary",
                   source.c_str(), id, static_cast<int>(std::min<size_t>(names[id].size(), 64)), names[id].data(),
                   expected.c_str());
    }
  }
  return Status::success();
}

}  // namespace ossrt
