// libFuzzer target for harmony conversation JSON: arbitrary bytes are read as
// a conversation and, when they are one, rendered. Properties: reading and
// rendering end in a status (no crash, no unbounded recursion), and what
// reads also survives a round trip through our JSON writer unchanged.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "ossrt/harmony.hpp"

namespace {

void require(bool condition) {
  if (!condition) std::abort();  // a fuzzer-only crash: the property is broken
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ossrt::harmony;
  static const Renderer renderer = Renderer::create().value();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto conversation = conversation_from_json(text);
  if (!conversation.ok()) return 0;
  auto ids = renderer.render_conversation_for_completion(conversation.value(), Role::assistant);
  auto again = conversation_from_json(to_json(conversation.value()));
  require(again.ok());
  require(to_json(again.value()) == to_json(conversation.value()));
  auto ids_again = renderer.render_conversation_for_completion(again.value(), Role::assistant);
  require(ids.ok() == ids_again.ok());
  if (ids.ok()) require(ids.value() == ids_again.value());
  return 0;
}
