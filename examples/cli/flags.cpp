#include "flags.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace ossrt_cli {

ossrt::Result<ossrt::Sampler> sampler_from_flags(const ParsedFlags& flags) {
  ossrt::SamplerOptions options;
  options.temperature = static_cast<float>(flags.real("temperature").value_or(options.temperature));
  options.top_k = flags.count("top-k").value_or(options.top_k);
  options.top_p = static_cast<float>(flags.real("top-p").value_or(options.top_p));
  options.min_p = static_cast<float>(flags.real("min-p").value_or(options.min_p));
  options.seed = flags.count("seed").value_or(options.seed);
  return ossrt::Sampler::create(options);
}

ossrt::Numerics numerics_from_flags(const ParsedFlags& flags) {
  return flags.text("numerics") == "fast" ? ossrt::Numerics::fast : ossrt::Numerics::exact;
}

ossrt::Result<ossrt::ModelConfig> synthetic_config_from_flags(const ParsedFlags& flags, const std::string& preset,
                                                              size_t& seed) {
  auto config = ossrt::synthetic_config(preset);
  if (!config.ok()) return config.status();
  // A count beyond int64 stays out of range (the library names the bound) instead of wrapping negative.
  if (auto layers = flags.count("layers"))
    config.value().num_hidden_layers = static_cast<int64_t>(std::min<size_t>(*layers, INT64_MAX));
  seed = flags.count("seed").value_or(1);
  return config;
}

int fail(const ossrt::Status& status) {
  std::fprintf(stderr, "ossrt: %s\n", status.to_string().c_str());
  return kExitFailure;
}

ossrt::Result<std::shared_ptr<const ossrt::Model>> load_model(const ParsedFlags& flags,
                                                              const ossrt::ModelOptions& options) {
  const std::optional<std::string> directory = flags.text("model");
  if (!directory) return ossrt::Status(ossrt::StatusCode::invalid_argument, "--model PATH is required");
  ossrt::ModelOptions with_backend = options;
  if (const std::optional<std::string> backend = flags.text("backend")) with_backend.backend = *backend;
  if (const auto layers = flags.count("cpu-expert-layers")) with_backend.cpu_expert_layers = *layers;
  return ossrt::Model::load(*directory, with_backend);
}

}  // namespace ossrt_cli
