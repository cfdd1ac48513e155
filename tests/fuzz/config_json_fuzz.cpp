// libFuzzer target for config.json: any bytes give a configuration the
// loader's bounds hold for (so every size derived from it fits), or a status.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "io/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = ossrt::parse_model_config(text, "fuzz/config.json");
  if (config.ok()) {
    const ossrt::ModelConfig& c = config.value();
    if (c.num_hidden_layers <= 0 || c.vocab_size <= 0 || c.experts_per_token > c.num_experts) std::abort();
    if (ossrt::max_context_length(c) == 0 || ossrt::max_context_length(c) > (size_t{1} << 31)) std::abort();
  }
  return 0;
}
