// The hyperparameters of a gpt-oss GGUF file (architecture "gpt-oss"), as
// llama.cpp's converter writes them under "gpt-oss.*":
//   block_count                        num_hidden_layers
//   expert_count, expert_used_count    num_experts, experts_per_token
//   embedding_length                   hidden_size
//   expert_feed_forward_length         intermediate_size
//   attention.head_count(_kv)          num_attention_heads, num_key_value_heads
//   attention.key_length (= value_length)  head_dim
//   attention.sliding_window           sliding_window
//   rope.freq_base                     rope_theta
//   rope.scaling.factor / .original_context_length (type "yarn")
//                                      rope_scaling_factor, initial_context_length
//   rope.scaling.yarn_beta_fast / _slow  rope_ntk_beta / rope_ntk_alpha (default 32 / 1)
// vocab_size comes from the token embedding's rows. No key carries the SwiGLU
// clamp: 7.0, the value gpt-oss was trained with and llama.cpp hard-codes.
// attention.layer_norm_rms_epsilon must be gpt-oss's 1e-5 when present.
#pragma once

#include <cstdint>
#include <string>

#include "io/gguf.h"
#include "ossrt/model_config.hpp"
#include "ossrt/status.hpp"

namespace ossrt {

// Reads and validates the config (validate_model_config). Failure:
// unsupported (another architecture, a rope scaling other than YaRN, another
// RMSNorm epsilon), invalid_config (a key missing, of the wrong type or out
// of range), the message naming the key and `source`.
Result<ModelConfig> gguf_model_config(const GgufFile& gguf, int64_t vocab_size, const std::string& source);

}  // namespace ossrt
