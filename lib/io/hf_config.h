// config.json of the Hugging Face layout (transformers' GptOssConfig, as
// convert_gpt_oss_weights_to_hf.py and save_pretrained write it), read onto
// the same ModelConfig as the original layout's.
#pragma once

#include <string>
#include <string_view>

#include "ossrt/model_config.hpp"
#include "ossrt/status.hpp"

namespace ossrt {

// Whether `json_text` is a JSON object with a "model_type" key: every Hugging
// Face config.json has one, the original layout's never does.
bool is_hf_config(std::string_view json_text);

// Parses a Hugging Face config.json (`source` names it in messages).
// Mapping: num_local_experts -> num_experts, num_experts_per_tok ->
// experts_per_token, rope_scaling (or transformers 5's rope_parameters)
// {factor, beta_fast, beta_slow, original_max_position_embeddings, rope_theta}
// -> rope_scaling_factor, rope_ntk_beta, rope_ntk_alpha,
// initial_context_length, rope_theta; the other sizes, swiglu_limit and
// rope_theta by their own names. A key the conversion copies through under the
// original name (experts_per_token, initial_context_length, num_experts) must
// agree with its Hugging Face twin. Keys that would change the math must hold
// what ossrt computes: model_type "gpt_oss", rope_type "yarn" with truncate
// false and no attention_factor / mscale / mscale_all_dim, partial_rotary_factor
// 1, layer_types alternating from sliding_attention, rms_norm_eps 1e-5,
// swiglu_alpha 1.702, attention_bias true, tie_word_embeddings false,
// quantization_config.quant_method "mxfp4". Absent keys take transformers'
// defaults where it has one that ossrt computes (layer_types, rms_norm_eps,
// attention_bias, tie_word_embeddings, swiglu_limit 7, beta_fast 32,
// beta_slow 1, factor = max_position_embeddings / original_max_position_embeddings);
// keys transformers' gpt-oss model never reads are ignored, as there.
// Failure: invalid_config, the message naming the key and the rule broken.
Result<ModelConfig> parse_hf_config(std::string_view json_text, const std::string& source);

}  // namespace ossrt
