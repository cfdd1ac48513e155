// libFuzzer target for session-state restore: any bytes restore into a
// session on the bundled tiny model, or are refused with the session
// unchanged; a restored session then runs one more token without a crash.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "ossrt/ossrt.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ossrt;
  static const std::shared_ptr<const Model> model = [] {
    auto loaded = Model::load(OSSRT_TEST_DATA_DIR "/tiny-a");
    if (!loaded.ok()) std::abort();
    return loaded.value();
  }();
  SessionOptions options;
  options.context_length = 64;
  options.rewind_tokens = 8;
  auto session = Session::create(model, options);
  if (!session.ok()) std::abort();
  const TokenId held[] = {714, 1108};
  if (!session.value()->append(held).ok()) std::abort();
  const Status st = session.value()->restore_state(std::span<const uint8_t>(data, size));
  if (!st.ok()) {
    if (session.value()->tokens().size() != 2) std::abort();  // unchanged on failure
    return 0;
  }
  const TokenId next[] = {958};
  (void)session.value()->append(next);
  return 0;
}
