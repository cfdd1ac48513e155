// libFuzzer target for the tokenizer. Properties checked on every input:
// encoding arbitrary bytes never fails, and decoding the ids gives back the
// input with invalid UTF-8 replaced; arbitrary ids decode to a status or to
// valid UTF-8; the streaming decoder emits only valid UTF-8.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ossrt/tokenizer.hpp"
#include "tokenizer/utf8.h"

namespace {

void require(bool condition) {
  if (!condition) std::abort();  // a fuzzer-only crash: the property is broken
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tokenizer = ossrt::Tokenizer::o200k_harmony().value();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string repaired = ossrt::utf8::replace_invalid(bytes);

  auto ordinary = tokenizer->encode(bytes);
  require(ordinary.ok());
  require(tokenizer->decode(ordinary.value()).value() == repaired);
  auto with_specials = tokenizer->encode(bytes, ossrt::AllowedSpecials::all());
  require(with_specials.ok());
  // With specials allowed, 200018's alias decodes to its canonical name.
  std::string canonical = repaired;
  const std::string alias = "<|endofprompt|>", name = "<|reserved_200018|>";
  for (size_t at = canonical.find(alias); at != std::string::npos; at = canonical.find(alias, at + name.size())) {
    canonical.replace(at, alias.size(), name);
  }
  require(tokenizer->decode(with_specials.value()).value() == canonical);
  require(tokenizer->encode_bytes(bytes).ok());

  std::vector<ossrt::TokenId> ids(size / 4);
  if (!ids.empty()) std::memcpy(ids.data(), data, ids.size() * 4);
  auto strict = tokenizer->decode(ids);
  const std::string lossy = tokenizer->decode_lossy(ids);
  require(ossrt::utf8::is_valid(lossy));
  if (strict.ok()) require(ossrt::utf8::replace_invalid(strict.value()) == lossy);

  ossrt::StreamDecoder stream(tokenizer);
  std::string streamed;
  for (ossrt::TokenId id : ids) {
    const size_t before = streamed.size();
    (void)stream.push(id, streamed);
    require(ossrt::utf8::is_valid(std::string_view(streamed).substr(before)));
  }
  stream.finish(streamed);
  require(ossrt::utf8::is_valid(streamed));
  return 0;
}
