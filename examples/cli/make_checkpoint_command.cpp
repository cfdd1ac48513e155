// ossrt make-checkpoint: a synthetic checkpoint (random weights, original
// layout) with a preset's shapes, for demos, tests and benchmarks.
#include <cstdio>

#include "commands.h"

namespace ossrt_cli {

int run_make_checkpoint(const ParsedFlags& flags) {
  const std::string preset = flags.text("preset").value_or(""), out = flags.text("out").value_or("");
  size_t seed = 1;
  auto config = synthetic_config_from_flags(flags, preset, seed);
  if (!config.ok()) return usage_error(flags.spec(), config.status().message());
  if (auto st = ossrt::write_synthetic_checkpoint(out, config.value(), seed); !st.ok()) return fail(st);
  std::printf("wrote %s (%s, %lld layers, seed %zu)\n", out.c_str(), preset.c_str(),
              static_cast<long long>(config.value().num_hidden_layers), seed);
  return 0;
}

}  // namespace ossrt_cli
