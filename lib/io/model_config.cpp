#include "io/model_config.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <span>
#include <string>
#include <vector>

#include "io/config_values.h"
#include "util/errors.h"
#include "util/regular_file.h"

namespace ossrt {
namespace {

struct FloatKey {
  const char* name;
  double ModelConfig::*field;
};

// With kCommonSizeKeys, the original layout's integer keys.
constexpr ConfigIntKey kOriginalIntKeys[] = {
    {"num_experts", &ModelConfig::num_experts, kMaxConfigCount},
    {"experts_per_token", &ModelConfig::experts_per_token, kMaxConfigCount},
    {"initial_context_length", &ModelConfig::initial_context_length, kMaxConfigDim},
};
constexpr std::span<const ConfigIntKey> kIntKeyTables[] = {kCommonSizeKeys, kOriginalIntKeys};
constexpr FloatKey kFloatKeys[] = {
    {"swiglu_limit", &ModelConfig::swiglu_limit},
    {"rope_theta", &ModelConfig::rope_theta},
    {"rope_scaling_factor", &ModelConfig::rope_scaling_factor},
    {"rope_ntk_alpha", &ModelConfig::rope_ntk_alpha},
    {"rope_ntk_beta", &ModelConfig::rope_ntk_beta},
};

Status read_int(simdjson::dom::element value, const ConfigIntKey& key, ModelConfig& config, const std::string& source) {
  Result<int64_t> v = config_int(value, key.name, key.max_value, source);
  if (!v.ok()) return v.status();
  config.*key.field = v.value();
  return Status::success();
}

Status read_float(simdjson::dom::element value, const FloatKey& key, ModelConfig& config, const std::string& source) {
  Result<double> v = config_positive_number(value, key.name, source);
  if (!v.ok()) return v.status();
  config.*key.field = v.value();
  return Status::success();
}

}  // namespace

YarnBand yarn_band(const ModelConfig& c) noexcept {
  double half = static_cast<double>(c.head_dim) / 2.0;
  double l0 = static_cast<double>(c.initial_context_length);
  double log_theta = std::log(c.rope_theta);
  return YarnBand{half * std::log(l0 / (c.rope_ntk_beta * 2.0 * std::numbers::pi)) / log_theta,
                  half * std::log(l0 / (c.rope_ntk_alpha * 2.0 * std::numbers::pi)) / log_theta};
}

Result<ModelConfig> parse_model_config(std::string_view json_text, const std::string& source) {
  simdjson::dom::parser parser;
  Result<simdjson::dom::object> parsed = parse_config_object(parser, json_text, source);
  if (!parsed.ok()) return parsed.status();
  const simdjson::dom::object object = parsed.value();
  ModelConfig config;
  std::vector<std::string_view> seen;
  for (auto field : object) {
    seen.push_back(field.key);
    Status status = error(StatusCode::invalid_config,
                          "%s: unknown key '%.*s' (the original gpt-oss config.json has exactly 16 keys; a Hugging "
                          "Face config.json belongs to a different layout)",
                          source.c_str(), static_cast<int>(field.key.size()), field.key.data());
    for (std::span<const ConfigIntKey> table : kIntKeyTables) {
      for (const ConfigIntKey& key : table) {
        if (field.key == key.name) status = read_int(field.value, key, config, source);
      }
    }
    for (const FloatKey& key : kFloatKeys) {
      if (field.key == key.name) status = read_float(field.value, key, config, source);
    }
    if (!status.ok()) return status;
  }
  auto present = [&](const char* name) {
    for (std::string_view s : seen) {
      if (s == name) return true;
    }
    return false;
  };
  for (std::span<const ConfigIntKey> table : kIntKeyTables) {
    for (const ConfigIntKey& key : table) {
      if (!present(key.name))
        return error(StatusCode::invalid_config, "%s: missing key '%s'", source.c_str(), key.name);
    }
  }
  for (const FloatKey& key : kFloatKeys) {
    if (!present(key.name)) return error(StatusCode::invalid_config, "%s: missing key '%s'", source.c_str(), key.name);
  }
  if (Status status = validate_model_config(config, source); !status.ok()) return status;
  return config;
}

Result<ModelConfig> load_model_config(const std::filesystem::path& path) {
  Result<std::string> text = read_regular_file(path, "config.json");
  if (!text.ok() && text.status().code() == StatusCode::not_found) {
    return error(StatusCode::not_found, "%s: no such file (a checkpoint directory needs config.json)", path.c_str());
  }
  if (!text.ok()) return text.status();
  return parse_model_config(text.value(), path.string());
}

Status validate_model_config(const ModelConfig& c, const std::string& source) {
  const char* src = source.c_str();
  if (c.experts_per_token > c.num_experts) {
    return error(StatusCode::invalid_config, "%s: experts_per_token (%lld) exceeds num_experts (%lld)", src,
                 static_cast<long long>(c.experts_per_token), static_cast<long long>(c.num_experts));
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return error(StatusCode::invalid_config,
                 "%s: num_attention_heads (%lld) is not a multiple of num_key_value_heads (%lld)", src,
                 static_cast<long long>(c.num_attention_heads), static_cast<long long>(c.num_key_value_heads));
  }
  if (c.head_dim % 2 != 0) {
    return error(StatusCode::invalid_config, "%s: head_dim (%lld) must be even (RoPE rotates half-split pairs)", src,
                 static_cast<long long>(c.head_dim));
  }
  if (c.hidden_size % 32 != 0 || c.intermediate_size % 32 != 0) {
    return error(StatusCode::invalid_config,
                 "%s: hidden_size (%lld) and intermediate_size (%lld) must be multiples of 32 (the MXFP4 block)", src,
                 static_cast<long long>(c.hidden_size), static_cast<long long>(c.intermediate_size));
  }
  if (c.rope_theta <= 1.0) {
    return error(StatusCode::invalid_config, "%s: rope_theta (%g) must be greater than 1", src, c.rope_theta);
  }
  if (c.rope_scaling_factor > 1.0) {
    YarnBand band = yarn_band(c);
    if (!(std::isfinite(band.low) && std::isfinite(band.high) && band.high > band.low)) {
      return error(StatusCode::invalid_config,
                   "%s: YaRN band is empty (low %g, high %g): rope_ntk_beta must be larger than rope_ntk_alpha", src,
                   band.low, band.high);
    }
  }
  double max_context = static_cast<double>(c.initial_context_length) * std::max(1.0, c.rope_scaling_factor);
  if (max_context > static_cast<double>(int64_t{1} << 31)) {
    return error(StatusCode::invalid_config, "%s: initial_context_length x rope_scaling_factor (%g) exceeds 2^31", src,
                 max_context);
  }
  return Status::success();
}

size_t max_context_length(const ModelConfig& config) noexcept {
  double factor = std::max(1.0, config.rope_scaling_factor);
  return static_cast<size_t>(static_cast<double>(config.initial_context_length) * factor);
}

}  // namespace ossrt
