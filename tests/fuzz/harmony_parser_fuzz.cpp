// libFuzzer target for the harmony stream parser. The input is a stream of
// ids: every 4 bytes one id, except that a first byte below 0x40 picks one of
// harmony's special ids, so malformed headers are reached quickly. Properties:
// lenient mode never fails and yields valid UTF-8; strict modes fail only
// with invalid_argument; every delta is valid UTF-8.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "ossrt/harmony.hpp"
#include "tokenizer/utf8.h"

namespace {

void require(bool condition) {
  if (!condition) std::abort();  // a fuzzer-only crash: the property is broken
}

constexpr ossrt::TokenId kSpecials[] = {199998, 199999, 200002, 200003, 200005, 200006,
                                        200007, 200008, 200012, 200014, 201087};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ossrt::harmony;
  static const auto tokenizer = ossrt::Tokenizer::o200k_harmony().value();
  std::vector<ossrt::TokenId> ids;
  for (size_t i = 0; i + 4 <= size; i += 4) {
    if (data[i] < 0x40) {
      ids.push_back(kSpecials[data[i + 1] % (sizeof(kSpecials) / sizeof(kSpecials[0]))]);
    } else {
      ossrt::TokenId id;
      std::memcpy(&id, data + i, 4);
      ids.push_back(data[i] < 0xC0 ? static_cast<ossrt::TokenId>(static_cast<uint32_t>(id) % 201088) : id);
    }
  }
  const std::optional<Role> role = size % 2 ? std::optional<Role>(Role::assistant) : std::nullopt;
  for (ParseMode mode : {ParseMode::lenient, ParseMode::strict, ParseMode::harmony_lenient}) {
    StreamParser parser(tokenizer, role, mode);
    std::vector<ParseEvent> events;
    ossrt::Status status;
    for (ossrt::TokenId id : ids) {
      status = parser.push(id, &events);
      if (!status.ok()) break;
      if (parser.last_content_delta()) require(ossrt::utf8::is_valid(*parser.last_content_delta()));
    }
    if (status.ok()) status = parser.finish(&events);
    if (mode == ParseMode::lenient) require(status.ok());
    if (!status.ok()) require(status.code() == ossrt::StatusCode::invalid_argument);
    for (const Message& message : parser.messages()) require(ossrt::utf8::is_valid(message.text()));
    for (const ParseEvent& event : events)
      if (event.kind == ParseEvent::Kind::content_delta) require(ossrt::utf8::is_valid(event.text));
  }
  return 0;
}
