// ossrt make-checkpoint: a synthetic checkpoint (random weights, original
// layout) with a preset's shapes, for demos, tests and benchmarks.
#include <cstdio>

#include "commands.h"

namespace ossrt_cli {

int run_make_checkpoint(const Flags& flags) {
  const auto preset = flags.find("preset"), out = flags.find("out");
  if (preset == flags.end() || out == flags.end()) {
    std::fprintf(stderr, "usage: ossrt make-checkpoint --preset NAME --out DIR [--layers N] [--seed S]\n");
    return 2;
  }
  auto config = ossrt::synthetic_config(preset->second);
  if (!config.ok()) return fail(config.status());
  size_t layers = 0, seed = 1;
  if (auto it = flags.find("layers"); it != flags.end()) {
    if (!parse_size(it->second, layers) || layers == 0) {
      std::fprintf(stderr, "ossrt make-checkpoint: --layers needs a positive integer\n");
      return 2;
    }
    config.value().num_hidden_layers = static_cast<int64_t>(layers);
  }
  if (auto it = flags.find("seed"); it != flags.end() && !parse_size(it->second, seed)) {
    std::fprintf(stderr, "ossrt make-checkpoint: --seed needs a non-negative integer\n");
    return 2;
  }
  if (auto st = ossrt::write_synthetic_checkpoint(out->second, config.value(), seed); !st.ok()) return fail(st);
  std::printf("wrote %s (%s, %lld layers, seed %zu)\n", out->second.c_str(), preset->second.c_str(),
              static_cast<long long>(config.value().num_hidden_layers), seed);
  return 0;
}

}  // namespace ossrt_cli
