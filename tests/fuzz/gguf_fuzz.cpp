// libFuzzer target for the GGUF reader: any bytes give a file whose keys,
// strings and tensor bytes lie inside the buffer, or a status; never a crash.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "io/gguf.h"

namespace {

bool inside(const void* p, size_t n, const uint8_t* data, size_t size) {
  const auto* b = static_cast<const uint8_t*>(p);
  return n == 0 || (b >= data && n <= size && b - data <= static_cast<std::ptrdiff_t>(size - n));
}

void check_array(const ossrt::GgufArray& array, const uint8_t* data, size_t size) {
  if (!inside(array.raw.data(), array.raw.size(), data, size)) std::abort();
  for (std::string_view text : array.strings) {
    if (!inside(text.data(), text.size(), data, size)) std::abort();
  }
  for (const ossrt::GgufArray& nested : array.arrays) check_array(nested, data, size);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = ossrt::parse_gguf(std::span<const uint8_t>(data, size), "fuzz.gguf");
  if (!file.ok()) return 0;
  for (const ossrt::GgufKeyValue& kv : file.value().metadata()) {
    if (!inside(kv.key.data(), kv.key.size(), data, size)) std::abort();
    if (!inside(kv.value.text.data(), kv.value.text.size(), data, size)) std::abort();
    check_array(kv.value.array, data, size);
    (void)file.value().get_uint(kv.key);
  }
  for (const ossrt::GgufTensor& t : file.value().tensors()) {
    auto bytes = file.value().tensor_bytes(t.name);
    if (bytes.ok() != t.supported) std::abort();
    if (!bytes.ok()) continue;
    if (bytes.value().size() != t.bytes || !inside(bytes.value().data(), t.bytes, data, size)) std::abort();
    volatile uint8_t sink = t.bytes > 0 ? bytes.value()[t.bytes - 1] : 0;  // touch the last byte: ASan checks it
    (void)sink;
  }
  return 0;
}
