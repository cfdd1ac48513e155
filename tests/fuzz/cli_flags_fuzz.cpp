// libFuzzer target for the CLI's flag parsing: the input, split at NUL bytes,
// is an argv; parse_flags and the value parsers (sizes, id lists, sampling,
// synthetic presets, numerics) return verdicts, never crash or hang. (They
// print why they refuse to stderr; -close_fd_mask=2 quiets a long run.)
#include <cstdint>
#include <string>
#include <vector>

#include "flags.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ossrt_cli;
  std::vector<std::string> words(1, "ossrt");
  words.emplace_back();
  for (size_t i = 0; i < size && words.size() < 64; ++i) {
    if (data[i] == 0)
      words.emplace_back();
    else
      words.back() += static_cast<char>(data[i]);
  }
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  Flags flags;
  if (!parse_flags(static_cast<int>(argv.size()), argv.data(), 1, flags, {"show-reasoning"})) return 0;
  for (const auto& [name, value] : flags) {
    size_t n = 0;
    std::vector<ossrt::TokenId> ids;
    (void)parse_size(value, n);
    if (parse_ids(value, ids)) (void)join_ids(ids);
  }
  ossrt::SamplerOptions sampling;
  (void)parse_sampling(flags, "fuzz", sampling);
  ossrt::SessionOptions session;
  (void)parse_numerics(flags, "fuzz", session);
  if (auto preset = flags.find("preset"); preset != flags.end()) {
    ossrt::ModelConfig config;
    size_t seed = 0;
    (void)parse_synthetic(flags, preset->second, "fuzz", config, seed);
  }
  return 0;
}
