#include "io/hf_config.h"

#include <simdjson.h>

#include <string>

#include "io/config_values.h"
#include "io/model_config.h"
#include "util/errors.h"

namespace ossrt {
namespace {

// Keys transformers' gpt-oss model never reads at inference, so no value of
// theirs changes a logit; ignored, like every key it does not know:
// architectures, transformers_version, torch_dtype / dtype, use_cache,
// output_router_logits, router_aux_loss_coef, initializer_range,
// pad_token_id, bos_token_id, eos_token_id, attention_dropout (training only),
// hidden_act (GptOssExperts hard-codes its clamped SwiGLU),
// max_position_embeddings (but for factor's fallback) and
// quantization_config.modules_to_not_convert.

// The values ossrt computes with where transformers reads a key.
constexpr double kRmsNormEps = 1e-5;
constexpr double kSwigluAlpha = 1.702;
constexpr double kDefaultSwigluLimit = 7.0;
constexpr double kDefaultBetaFast = 32.0, kDefaultBetaSlow = 1.0;
constexpr std::string_view kSlidingLayer = "sliding_attention", kFullLayer = "full_attention";

// The keys YaRN may have in rope_scaling / rope_parameters (transformers'
// validation list); any other one is refused rather than ignored.
constexpr std::string_view kRopeKeys[] = {
    "rope_type", "type",       "factor",           "beta_fast", "beta_slow",      "original_max_position_embeddings",
    "truncate",  "rope_theta", "attention_factor", "mscale",    "mscale_all_dim", "partial_rotary_factor"};

// One JSON object's keys, named in messages as `prefix` + key
// ("rope_scaling.factor"). A key set to null counts as absent, as transformers
// treats None as "not set".
class Keys {
 public:
  Keys(simdjson::dom::object object, std::string prefix, const std::string& source)
      : object_(object), prefix_(std::move(prefix)), source_(source) {}

  bool find(std::string_view key, simdjson::dom::element& value) const {
    return object_[key].get(value) == simdjson::SUCCESS && !value.is_null();
  }
  bool has(std::string_view key) const {
    simdjson::dom::element value;
    return find(key, value);
  }
  std::string name(std::string_view key) const { return prefix_ + std::string(key); }
  // The object under `key`, its keys named "key.inner". Failure: not an object.
  Result<Keys> nested(std::string_view key, simdjson::dom::element value) const {
    simdjson::dom::object object;
    if (value.get_object().get(object) != simdjson::SUCCESS) return invalid(key, "must be an object");
    if (Status status = check_unique_keys(object, source_, name(key) + "."); !status.ok()) return status;
    return Keys(object, name(key) + ".", source_);
  }
  simdjson::dom::object object() const { return object_; }
  const std::string& source() const { return source_; }

  // invalid_config "SOURCE: key 'NAME' " + the rule (printf-style with `args`).
  template <class... Args>
  Status invalid(std::string_view key, const char* rule, Args... args) const {
    std::string text = format("%s: key '%s' ", source_.c_str(), name(key).c_str());
    if constexpr (sizeof...(Args) == 0) {
      text += rule;
    } else {
      text += format(rule, args...);
    }
    return Status(StatusCode::invalid_config, std::move(text));
  }

  Result<int64_t> required_int(std::string_view key, int64_t max_value) const {
    simdjson::dom::element value;
    if (!find(key, value)) return invalid(key, "is missing");
    return config_int(value, name(key), max_value, source_);
  }
  Result<double> number_or(std::string_view key, double fallback) const {
    simdjson::dom::element value;
    if (!find(key, value)) return fallback;
    return config_positive_number(value, name(key), source_);
  }
  Result<std::string_view> required_string(std::string_view key) const {
    simdjson::dom::element value;
    if (!find(key, value)) return invalid(key, "is missing");
    std::string_view text;
    if (value.get_string().get(text) != simdjson::SUCCESS) return invalid(key, "must be a string");
    return text;
  }
  // A key whose value ossrt cannot change: absent, or exactly `expected`.
  Status number_is(std::string_view key, double expected, const char* why) const {
    Result<double> v = number_or(key, expected);
    if (!v.ok()) return v.status();
    if (v.value() != expected) return invalid(key, "is %g; %s", v.value(), why);
    return Status::success();
  }
  Status bool_is(std::string_view key, bool expected, const char* why) const {
    simdjson::dom::element value;
    if (!find(key, value)) return Status::success();
    bool v = false;
    if (value.get_bool().get(v) != simdjson::SUCCESS) return invalid(key, "must be true or false");
    if (v != expected) return invalid(key, "is %s; %s", v ? "true" : "false", why);
    return Status::success();
  }
  // `key`, which names the same quantity as `twin` (worth `value`), agrees with it if present.
  Status agrees(std::string_view key, double value, const std::string& twin) const {
    simdjson::dom::element element;
    if (!find(key, element)) return Status::success();
    double v = 0;
    if (element.get_double().get(v) != simdjson::SUCCESS) return invalid(key, "must be a number");
    if (v != value) return invalid(key, "is %g but '%s' is %g: both name the same quantity", v, twin.c_str(), value);
    return Status::success();
  }

 private:
  simdjson::dom::object object_;
  std::string prefix_;
  const std::string& source_;
};

Status check_model_type(const Keys& top) {
  Result<std::string_view> type = top.required_string("model_type");
  if (!type.ok()) return type.status();
  if (type.value() != "gpt_oss") {
    return top.invalid("model_type", "is '%.*s'; ossrt runs gpt_oss", static_cast<int>(type.value().size()),
                       type.value().data());
  }
  return Status::success();
}

Status check_fixed_values(const Keys& top) {
  Status checks[] = {
      top.number_is("rms_norm_eps", kRmsNormEps, "gpt-oss's RMSNorm, which ossrt computes, uses 1e-05"),
      top.number_is("swiglu_alpha", kSwigluAlpha, "gpt-oss's SwiGLU, which ossrt computes, uses 1.702"),
      top.bool_is("attention_bias", true, "gpt-oss's attention projections have biases"),
      top.bool_is("tie_word_embeddings", false, "gpt-oss has its own unembedding (lm_head.weight)"),
  };
  for (Status& status : checks) {
    if (!status.ok()) return status;
  }
  simdjson::dom::element quantization;
  if (!top.find("quantization_config", quantization)) return Status::success();
  Result<Keys> keys = top.nested("quantization_config", quantization);
  if (!keys.ok()) return keys.status();
  Result<std::string_view> method = keys.value().required_string("quant_method");
  if (!method.ok()) return method.status();
  if (method.value() != "mxfp4") {
    return keys.value().invalid("quant_method", "is '%.*s'; ossrt reads the experts in MXFP4 (mxfp4)",
                                static_cast<int>(method.value().size()), method.value().data());
  }
  return Status::success();
}

// ossrt bands the even layers (gpt-oss's alternation, transformers' default).
Status check_layer_types(const Keys& top, int64_t layers) {
  simdjson::dom::element value;
  if (!top.find("layer_types", value)) return Status::success();
  simdjson::dom::array array;
  if (value.get_array().get(array) != simdjson::SUCCESS) return top.invalid("layer_types", "must be an array");
  if (static_cast<int64_t>(array.size()) != layers) {
    return top.invalid("layer_types", "has %zu entries; num_hidden_layers is %lld", array.size(),
                       static_cast<long long>(layers));
  }
  size_t index = 0;
  for (simdjson::dom::element item : array) {
    const std::string_view expected = index % 2 == 0 ? kSlidingLayer : kFullLayer;
    std::string_view type;
    if (item.get_string().get(type) != simdjson::SUCCESS || type != expected) {
      return top.invalid("layer_types",
                         "entry %zu is not '%.*s': ossrt computes gpt-oss's alternation (even layers "
                         "sliding_attention, odd full_attention)",
                         index, static_cast<int>(expected.size()), expected.data());
    }
    ++index;
  }
  return Status::success();
}

// YaRN as the reference computes it: no rounding of the blend band
// (truncate false), attention factor 0.1 ln(factor) + 1.
Status check_rope_kind(const Keys& rope) {
  for (auto field : rope.object()) {
    bool known = false;
    for (std::string_view key : kRopeKeys) known |= field.key == key;
    if (!known) return rope.invalid(field.key, "is not a YaRN parameter ossrt knows");
  }
  const std::string_view type_key = rope.has("rope_type") ? "rope_type" : "type";
  Result<std::string_view> type = rope.required_string(type_key);
  if (!type.ok()) return type.status();
  if (type.value() != "yarn") {
    return rope.invalid(type_key, "is '%.*s'; gpt-oss uses yarn", static_cast<int>(type.value().size()),
                        type.value().data());
  }
  simdjson::dom::element truncate;
  bool truncated = true;  // transformers' default
  if (rope.find("truncate", truncate) && truncate.get_bool().get(truncated) != simdjson::SUCCESS)
    return rope.invalid("truncate", "must be true or false");
  if (truncated) {
    return rope.invalid("truncate",
                        "must be false (absent means true): ossrt computes gpt-oss's YaRN band without rounding");
  }
  for (std::string_view key : {"attention_factor", "mscale", "mscale_all_dim"}) {
    if (rope.has(key)) return rope.invalid(key, "is set; ossrt computes YaRN's attention factor as 0.1 ln(factor) + 1");
  }
  return rope.number_is("partial_rotary_factor", 1.0, "gpt-oss rotates the whole head");
}

Status read_rope(const Keys& top, ModelConfig& c) {
  const bool legacy = top.has("rope_scaling"), current = top.has("rope_parameters");
  if (legacy && current) {
    return top.invalid("rope_parameters", "is set as well as 'rope_scaling': transformers reads only one of them");
  }
  const std::string_view rope_key = current ? "rope_parameters" : "rope_scaling";
  simdjson::dom::element element;
  if (!top.find(rope_key, element)) {
    return top.invalid(rope_key,
                       "is missing (gpt-oss's YaRN: rope_type yarn, factor, beta_fast, beta_slow, "
                       "original_max_position_embeddings, truncate false)");
  }
  Result<Keys> nested = top.nested(rope_key, element);
  if (!nested.ok()) return nested.status();
  const Keys& rope = nested.value();
  if (Status status = check_rope_kind(rope); !status.ok()) return status;

  const std::string_view l0_key = "original_max_position_embeddings";
  Result<int64_t> l0 = rope.required_int(l0_key, kMaxConfigDim);
  if (!l0.ok()) return l0.status();
  c.initial_context_length = l0.value();
  // The conversion script copies the original config's own name through.
  if (Status status = top.agrees("initial_context_length", static_cast<double>(l0.value()), rope.name(l0_key));
      !status.ok())
    return status;

  if (rope.has("factor")) {
    Result<double> factor = rope.number_or("factor", 0);
    if (!factor.ok()) return factor.status();
    c.rope_scaling_factor = factor.value();
  } else {  // transformers' fallback
    Result<int64_t> max_positions = top.required_int("max_position_embeddings", int64_t{1} << 31);
    if (!max_positions.ok()) return max_positions.status();
    c.rope_scaling_factor = static_cast<double>(max_positions.value()) / static_cast<double>(l0.value());
  }
  Result<double> beta_fast = rope.number_or("beta_fast", kDefaultBetaFast);
  if (!beta_fast.ok()) return beta_fast.status();
  Result<double> beta_slow = rope.number_or("beta_slow", kDefaultBetaSlow);
  if (!beta_slow.ok()) return beta_slow.status();
  c.rope_ntk_beta = beta_fast.value();
  c.rope_ntk_alpha = beta_slow.value();

  // rope_theta: top level (transformers 4) or inside rope_parameters (5); both must agree.
  const Keys& theta_keys = rope.has("rope_theta") ? rope : top;
  simdjson::dom::element theta_value;
  if (!theta_keys.find("rope_theta", theta_value)) return top.invalid("rope_theta", "is missing");
  Result<double> theta = config_positive_number(theta_value, theta_keys.name("rope_theta"), top.source());
  if (!theta.ok()) return theta.status();
  c.rope_theta = theta.value();
  return top.agrees("rope_theta", c.rope_theta, theta_keys.name("rope_theta"));
}

}  // namespace

bool is_hf_config(std::string_view json_text) {
  simdjson::dom::parser parser;
  simdjson::padded_string padded(json_text);
  simdjson::dom::element root, type;
  return parser.parse(padded).get(root) == simdjson::SUCCESS && root["model_type"].get(type) == simdjson::SUCCESS;
}

Result<ModelConfig> parse_hf_config(std::string_view json_text, const std::string& source) {
  simdjson::dom::parser parser;
  Result<simdjson::dom::object> parsed = parse_config_object(parser, json_text, source);
  if (!parsed.ok()) return parsed.status();
  const simdjson::dom::object object = parsed.value();
  const Keys top(object, "", source);
  if (Status status = check_model_type(top); !status.ok()) return status;

  ModelConfig c;
  for (const ConfigIntKey& key : kCommonSizeKeys) {
    Result<int64_t> value = top.required_int(key.name, key.max_value);
    if (!value.ok()) return value.status();
    c.*key.field = value.value();
  }
  // transformers aliases num_experts to num_local_experts; experts_per_token is
  // the original name the conversion copies through (transformers ignores it).
  const char* experts_key =
      top.has("num_local_experts") || !top.has("num_experts") ? "num_local_experts" : "num_experts";
  Result<int64_t> experts = top.required_int(experts_key, kMaxConfigCount);
  if (!experts.ok()) return experts.status();
  c.num_experts = experts.value();
  Result<int64_t> per_token = top.required_int("num_experts_per_tok", kMaxConfigCount);
  if (!per_token.ok()) return per_token.status();
  c.experts_per_token = per_token.value();
  Result<double> limit = top.number_or("swiglu_limit", kDefaultSwigluLimit);
  if (!limit.ok()) return limit.status();
  c.swiglu_limit = limit.value();
  Status checks[] = {
      top.agrees("num_experts", static_cast<double>(c.num_experts), experts_key),
      top.agrees("experts_per_token", static_cast<double>(c.experts_per_token), "num_experts_per_tok"),
      check_fixed_values(top),
      check_layer_types(top, c.num_hidden_layers),
      read_rope(top, c),
  };
  for (Status& status : checks) {
    if (!status.ok()) return status;
  }
  if (Status status = validate_model_config(c, source); !status.ok()) return status;
  return c;
}

}  // namespace ossrt
