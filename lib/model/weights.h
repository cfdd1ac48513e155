// Typed, shape-checked views of a checkpoint's tensors (docs/model.md §4).
// Nothing is copied: every pointer refers to mapped file bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "io/checkpoint.h"
#include "ossrt/status.hpp"

namespace ossrt {

using bf16_t = uint16_t;  // raw bfloat16 bits

// Expert weights in MXFP4: the input dimension is blocked in 32s.
struct Mxfp4Tensor {
  const uint8_t* blocks = nullptr;  // [experts, rows, in/32, 16] FP4 code pairs
  const uint8_t* scales = nullptr;  // [experts, rows, in/32]     E8M0 bytes
};

struct LayerWeights {
  const bf16_t* attn_norm = nullptr;    // [H]
  const bf16_t* qkv_weight = nullptr;   // [D*(NQ+2*NKV), H]
  const bf16_t* qkv_bias = nullptr;     // [D*(NQ+2*NKV)]
  const bf16_t* sinks = nullptr;        // [NQ]
  const bf16_t* out_weight = nullptr;   // [H, D*NQ]
  const bf16_t* out_bias = nullptr;     // [H]
  const bf16_t* mlp_norm = nullptr;     // [H]
  const bf16_t* gate_weight = nullptr;  // [E, H]
  const bf16_t* gate_bias = nullptr;    // [E]
  Mxfp4Tensor mlp1;                     // [E, 2I, H/32, 16] rows alternate glu / linear
  const bf16_t* mlp1_bias = nullptr;    // [E, 2I]
  Mxfp4Tensor mlp2;                     // [E, H, I/32, 16]
  const bf16_t* mlp2_bias = nullptr;    // [E, H]
};

struct ModelWeights {
  const bf16_t* embedding = nullptr;    // [V, H]
  std::vector<LayerWeights> layers;     // [L]
  const bf16_t* final_norm = nullptr;   // [H]
  const bf16_t* unembedding = nullptr;  // [V, H]
  uint64_t parameter_count = 0;
  uint64_t bytes = 0;
};

// Binds every tensor the config calls for, checking presence, dtype and
// shape, and refuses tensors a checkpoint with this config cannot contain.
// Failure: tensor_mismatch, naming the tensor, its file, and expected vs found.
Result<ModelWeights> bind_weights(const Checkpoint& checkpoint);

}  // namespace ossrt
