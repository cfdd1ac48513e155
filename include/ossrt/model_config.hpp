// ModelConfig: the hyperparameters of a gpt-oss checkpoint. A leaf header
// (no other ossrt header), so that the loaders of every checkpoint format can
// describe what they read without depending on the Model API above them.
#pragma once

#include <cstdint>

namespace ossrt {

// The 16 keys of the original gpt-oss `config.json` (see docs/model.md §1).
struct ModelConfig {
  int64_t num_hidden_layers = 0;
  int64_t num_experts = 0;
  int64_t experts_per_token = 0;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  double swiglu_limit = 0;
  int64_t head_dim = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;
  int64_t sliding_window = 0;
  int64_t initial_context_length = 0;
  double rope_theta = 0;
  double rope_scaling_factor = 0;
  double rope_ntk_alpha = 0;
  double rope_ntk_beta = 0;
};

}  // namespace ossrt
