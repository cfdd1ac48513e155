// libFuzzer target for the JSON-schema compiler: any bytes give a grammar or
// an invalid_argument status (never another code, a crash or a hang); a
// compiled grammar then matches the input's tail byte by byte, and every
// state it reaches answers is_complete without failing.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "constrain/grammar.h"
#include "constrain/matcher.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // The first line is the schema, the rest bytes to feed its matcher.
  const size_t newline = text.find('\n');
  const std::string_view schema = text.substr(0, newline);
  const std::string_view rest = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
  auto grammar = ossrt::constrain::Grammar::from_json_schema(schema);
  if (!grammar.ok()) {
    if (grammar.status().code() != ossrt::StatusCode::invalid_argument) std::abort();
    return 0;
  }
  ossrt::constrain::Matcher matcher(grammar.value());
  for (char c : rest) {
    if (!matcher.accept(std::string_view(&c, 1))) break;
    static_cast<void>(matcher.is_complete());
  }
  return 0;
}
