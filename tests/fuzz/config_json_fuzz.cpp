// libFuzzer target for config.json in both layouts' spellings: any bytes give
// a configuration the loader's bounds hold for (so every size derived from it
// fits), or a status; the same from the Hugging Face parser.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "io/hf_config.h"
#include "io/model_config.h"

namespace {

void check_bounds(const ossrt::Result<ossrt::ModelConfig>& config) {
  if (!config.ok()) {
    if (config.status().code() != ossrt::StatusCode::invalid_config) std::abort();
    return;
  }
  const ossrt::ModelConfig& c = config.value();
  if (c.num_hidden_layers <= 0 || c.vocab_size <= 0 || c.experts_per_token > c.num_experts) std::abort();
  if (ossrt::max_context_length(c) == 0 || ossrt::max_context_length(c) > (size_t{1} << 31)) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_bounds(ossrt::parse_model_config(text, "fuzz/config.json"));
  check_bounds(ossrt::parse_hf_config(text, "fuzz/config.json"));
  static_cast<void>(ossrt::is_hf_config(text));
  return 0;
}
