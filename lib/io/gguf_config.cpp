#include "io/gguf_config.h"

#include <cmath>
#include <cstring>

#include "io/config_values.h"
#include "io/model_config.h"
#include "util/errors.h"

namespace ossrt {
namespace {

constexpr std::string_view kArchitecture = "gpt-oss";
constexpr double kSwigluLimit = 7.0;
constexpr double kDefaultBetaFast = 32.0, kDefaultBetaSlow = 1.0;
constexpr float kRmsNormEps = 1e-5f;

class Keys {
 public:
  Keys(const GgufFile& gguf, const std::string& source) : gguf_(gguf), source_(source) {}

  std::string name(std::string_view key) const { return std::string(kArchitecture) + "." + std::string(key); }
  bool has(std::string_view key) const { return gguf_.find(name(key)) != nullptr; }

  // An integer in [1, max_value].
  Result<int64_t> size(std::string_view key, int64_t max_value) const {
    Result<uint64_t> value = gguf_.get_uint(name(key));
    if (!value.ok()) return missing_is_invalid(value.status());
    if (value.value() < 1 || value.value() > static_cast<uint64_t>(max_value)) {
      return error(StatusCode::invalid_config, "%s: key '%s' is %llu, outside [1, %lld]", source_.c_str(),
                   name(key).c_str(), static_cast<unsigned long long>(value.value()),
                   static_cast<long long>(max_value));
    }
    return static_cast<int64_t>(value.value());
  }

  // A number of any numeric type.
  Result<double> number(std::string_view key) const {
    const std::string full = name(key);
    const GgufValue* value = gguf_.find(full);
    if (value == nullptr) return error(StatusCode::invalid_config, "%s: no key '%s'", source_.c_str(), full.c_str());
    if (value->type == GgufType::f32) {
      float f;
      const auto bits = static_cast<uint32_t>(value->bits);
      std::memcpy(&f, &bits, sizeof f);
      return static_cast<double>(f);
    }
    if (value->type == GgufType::f64) {
      double d;
      std::memcpy(&d, &value->bits, sizeof d);
      return d;
    }
    Result<uint64_t> integer = gguf_.get_uint(full);
    if (!integer.ok()) return missing_is_invalid(integer.status());
    return static_cast<double>(integer.value());
  }

  Result<double> positive(std::string_view key) const {
    Result<double> value = number(key);
    if (value.ok() && !(std::isfinite(value.value()) && value.value() > 0)) {
      return error(StatusCode::invalid_config, "%s: key '%s' must be a positive finite number", source_.c_str(),
                   name(key).c_str());
    }
    return value;
  }

 private:
  Status missing_is_invalid(const Status& status) const {
    return Status(status.code() == StatusCode::not_found ? StatusCode::invalid_config : status.code(),
                  std::string(status.message()));
  }
  const GgufFile& gguf_;
  const std::string& source_;
};

}  // namespace

Result<ModelConfig> gguf_model_config(const GgufFile& gguf, int64_t vocab_size, const std::string& source) {
  Result<std::string_view> architecture = gguf.get<std::string_view>("general.architecture");
  if (!architecture.ok()) {
    return error(StatusCode::invalid_config, "%s: no string key 'general.architecture'", source.c_str());
  }
  if (architecture.value() != kArchitecture) {
    return error(StatusCode::unsupported, "%s: a GGUF of architecture '%.*s'; ossrt runs gpt-oss", source.c_str(),
                 static_cast<int>(architecture.value().size()), architecture.value().data());
  }
  if (vocab_size < 1 || vocab_size > kMaxConfigDim) {
    return error(StatusCode::invalid_config, "%s: the token embedding has %lld rows, outside [1, %lld]", source.c_str(),
                 static_cast<long long>(vocab_size), static_cast<long long>(kMaxConfigDim));
  }
  const Keys keys(gguf, source);
  ModelConfig c;
  c.vocab_size = vocab_size;
  const struct {
    const char* key;
    int64_t ModelConfig::*field;
    int64_t max_value;
  } sizes[] = {
      {"block_count", &ModelConfig::num_hidden_layers, kMaxConfigCount},
      {"expert_count", &ModelConfig::num_experts, kMaxConfigCount},
      {"expert_used_count", &ModelConfig::experts_per_token, kMaxConfigCount},
      {"embedding_length", &ModelConfig::hidden_size, kMaxConfigDim},
      {"expert_feed_forward_length", &ModelConfig::intermediate_size, kMaxConfigDim},
      {"attention.head_count", &ModelConfig::num_attention_heads, kMaxConfigCount},
      {"attention.head_count_kv", &ModelConfig::num_key_value_heads, kMaxConfigCount},
      {"attention.key_length", &ModelConfig::head_dim, kMaxConfigCount},
      {"attention.sliding_window", &ModelConfig::sliding_window, kMaxConfigDim},
  };
  for (const auto& size : sizes) {
    Result<int64_t> value = keys.size(size.key, size.max_value);
    if (!value.ok()) return value.status();
    c.*size.field = value.value();
  }
  if (keys.has("attention.value_length")) {
    Result<int64_t> value_length = keys.size("attention.value_length", kMaxConfigCount);
    if (!value_length.ok()) return value_length.status();
    if (value_length.value() != c.head_dim) {
      return error(StatusCode::invalid_config,
                   "%s: key '%s' (%lld) differs from '%s' (%lld); gpt-oss has one head size", source.c_str(),
                   keys.name("attention.value_length").c_str(), static_cast<long long>(value_length.value()),
                   keys.name("attention.key_length").c_str(), static_cast<long long>(c.head_dim));
    }
  }
  if (keys.has("attention.layer_norm_rms_epsilon")) {
    Result<double> eps = keys.number("attention.layer_norm_rms_epsilon");
    if (!eps.ok()) return eps.status();
    if (static_cast<float>(eps.value()) != kRmsNormEps) {
      return error(StatusCode::unsupported, "%s: key '%s' is %g; gpt-oss's RMSNorm uses 1e-5", source.c_str(),
                   keys.name("attention.layer_norm_rms_epsilon").c_str(), eps.value());
    }
  }
  Result<double> theta = keys.positive("rope.freq_base");
  if (!theta.ok()) return theta.status();
  c.rope_theta = theta.value();

  // Without YaRN keys, the context is the trained one, unscaled.
  Result<std::string_view> scaling = gguf.get<std::string_view>(keys.name("rope.scaling.type"));
  const bool yarn = scaling.ok() && scaling.value() == "yarn";
  if (scaling.ok() && !yarn && scaling.value() != "none") {
    return error(StatusCode::unsupported, "%s: key '%s' is '%.*s'; gpt-oss uses yarn", source.c_str(),
                 keys.name("rope.scaling.type").c_str(), static_cast<int>(scaling.value().size()),
                 scaling.value().data());
  }
  if (yarn || keys.has("rope.scaling.factor")) {
    Result<double> factor = keys.positive("rope.scaling.factor");
    if (!factor.ok()) return factor.status();
    Result<int64_t> original = keys.size("rope.scaling.original_context_length", kMaxConfigDim);
    if (!original.ok()) return original.status();
    c.rope_scaling_factor = factor.value();
    c.initial_context_length = original.value();
  } else {
    Result<int64_t> context = keys.size("context_length", kMaxConfigDim);
    if (!context.ok()) return context.status();
    c.rope_scaling_factor = 1.0;
    c.initial_context_length = context.value();
  }
  c.rope_ntk_beta = kDefaultBetaFast;
  c.rope_ntk_alpha = kDefaultBetaSlow;
  const struct {
    const char* key;
    double ModelConfig::*field;
  } betas[] = {{"rope.scaling.yarn_beta_fast", &ModelConfig::rope_ntk_beta},
               {"rope.scaling.yarn_beta_slow", &ModelConfig::rope_ntk_alpha}};
  for (const auto& beta : betas) {
    if (!keys.has(beta.key)) continue;
    Result<double> value = keys.positive(beta.key);
    if (!value.ok()) return value.status();
    c.*beta.field = value.value();
  }
  c.swiglu_limit = kSwigluLimit;
  if (Status status = validate_model_config(c, source); !status.ok()) return status;
  return c;
}

}  // namespace ossrt
