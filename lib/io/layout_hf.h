// transformers' layout of gpt-oss, the Hub repository's root (written by
// convert_gpt_oss_weights_to_hf.py): config.json in transformers' keys
// (hf_config.h) and the tensors that model.safetensors.index.json's weight_map
// places in its shard files (model-0000k-of-0000n.safetensors), or, without
// an index, those of model.safetensors. Each name maps to one canonical name:
//   model.embed_tokens.weight                  embedding.weight
//   model.layers.N.input_layernorm.weight      block.N.attn.norm.scale
//   model.layers.N.self_attn.{q,k,v}_proj.*    block.N.attn.{q,k,v}.*  (split)
//   model.layers.N.self_attn.o_proj.*          block.N.attn.out.*
//   model.layers.N.self_attn.sinks             block.N.attn.sinks
//   model.layers.N.post_attention_layernorm.weight  block.N.mlp.norm.scale
//   model.layers.N.mlp.router.*                block.N.mlp.gate.*
//   model.layers.N.mlp.experts.gate_up_proj_{blocks,scales,bias}
//                                              block.N.mlp.mlp1_weight.{blocks,scales}, mlp1_bias
//   model.layers.N.mlp.experts.down_proj_{blocks,scales,bias}
//                                              block.N.mlp.mlp2_weight.{blocks,scales}, mlp2_bias
//   model.norm.weight                          norm.scale
//   lm_head.weight                             unembedding.weight
// The conversion copies the MXFP4 blocks and scales byte for byte (same
// shapes, nibble order and interleaved glu/linear rows) and splits qkv by rows
// without permuting them, so every tensor is used in place.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "io/checkpoint.h"

namespace ossrt {

inline constexpr const char* kHfIndexFileName = "model.safetensors.index.json";

// Whether `directory` has model.safetensors.index.json, or a config.json with
// "model_type" (a Hugging Face config; hf_config.h).
bool looks_like_hf_layout(const std::filesystem::path& directory);

// Reads checkpoint.directory into `checkpoint`. Every file the index names
// must exist, every tensor of those files must be in the index under its own
// file, and every tensor of the index in the file it names. The dequantized
// variant (BF16 mlp.experts.gate_up_proj [E, H, 2I] / down_proj [E, I, H]) is
// refused: ossrt computes the experts in MXFP4.
// Failure: not_found (config.json, a shard the index names, model.safetensors
// without an index), permission_denied, io_error, invalid_argument (not a
// regular file), invalid_config (config.json), invalid_checkpoint (a malformed
// index, a tensor missing from the index or from the shard the index names),
// unsupported (dequantized experts), tensor_mismatch (a name of no gpt-oss
// tensor), unsupported_dtype, out_of_memory; messages name the file and tensor.
Status read_hf_layout(Checkpoint& checkpoint, bool in_memory);

// The Hugging Face name of canonical tensor `canonical` ("block.2.attn.q.weight"
// -> "model.layers.2.self_attn.q_proj.weight"), or `canonical` if it has none.
std::string hf_tensor_name(std::string_view canonical);

// The canonical name of Hugging Face tensor `name`, if it is one of gpt-oss's.
std::optional<std::string> canonical_tensor_name(std::string_view name);

}  // namespace ossrt
