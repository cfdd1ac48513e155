// libFuzzer target for the safetensors parser: any bytes give entries that
// lie inside the buffer, or a status; never a crash.
#include <cstdint>
#include <cstdlib>

#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto entries = ossrt::parse_safetensors(data, size, "fuzz.safetensors");
  if (entries.ok()) {
    for (const ossrt::TensorEntry& e : entries.value()) {
      if (e.data < data || e.data + e.bytes > data + size) std::abort();
      volatile uint8_t sink = e.bytes > 0 ? e.data[e.bytes - 1] : 0;  // touch the last byte: ASan checks it
      (void)sink;
    }
  }
  return 0;
}
