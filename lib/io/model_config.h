// config.json of the original gpt-oss layout: parsing and validation.
#pragma once

#include <filesystem>
#include <string_view>

#include "ossrt/model_config.hpp"
#include "ossrt/status.hpp"

namespace ossrt {

// YaRN's blend band of the rotation pairs (docs/model.md §3): pairs below `low` keep the original
// frequency, pairs above `high` are interpolated by the scaling factor.
struct YarnBand {
  double low = 0;
  double high = 0;
};
YarnBand yarn_band(const ModelConfig& config) noexcept;

// Parses the JSON text of a config.json (`source` names it in messages).
// Exactly the 16 keys are accepted, as the reference's ModelConfig(**json)
// does; each must have the right type and a value the model math allows.
// Failure: invalid_config, the message naming the key and the rule broken.
Result<ModelConfig> parse_model_config(std::string_view json_text, const std::string& source);

// Reads and parses `path`. Failure: not_found / io_error, invalid_config.
Result<ModelConfig> load_model_config(const std::filesystem::path& path);

// Checks the relations between values (divisibility, MXFP4 block multiples,
// YaRN band). Failure: invalid_config.
Status validate_model_config(const ModelConfig& config, const std::string& source);

// Largest position the model supports: initial_context_length x
// rope_scaling_factor when YaRN is active, else initial_context_length.
size_t max_context_length(const ModelConfig& config) noexcept;

}  // namespace ossrt
