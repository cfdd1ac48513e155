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
  ossrt::ModelConfig config;
  size_t seed = 1;
  if (int code = parse_synthetic(flags, preset->second, "make-checkpoint", config, seed); code != 0) return code;
  if (auto st = ossrt::write_synthetic_checkpoint(out->second, config, seed); !st.ok()) return fail(st);
  std::printf("wrote %s (%s, %lld layers, seed %zu)\n", out->second.c_str(), preset->second.c_str(),
              static_cast<long long>(config.num_hidden_layers), seed);
  return 0;
}

}  // namespace ossrt_cli
