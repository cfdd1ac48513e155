// Writing a checkpoint in the Hugging Face layout (layout_hf.h), as
// transformers' conversion script does: the same model in both layouts for
// tests and fixtures, without Python.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

#include "io/checkpoint.h"

namespace ossrt {

// config.json in transformers' keys for `config`, like the Hub repository's:
// every key it has, rope_scaling yarn with truncate false, layer_types
// alternating from sliding_attention, quantization_config mxfp4, and the
// original names the conversion copies through (experts_per_token,
// initial_context_length).
std::string hf_config_json(const ModelConfig& config);

// Writes `source` (either layout) into `directory` (created) in the Hugging
// Face layout: config.json; the tensors under transformers' names, a fused
// attention input split into q/k/v by rows, MXFP4 bytes as they are; in
// `shards` files model-0000k-of-0000n.safetensors (k from 0, n = shards - 1,
// as the Hub repository names them) with model.safetensors.index.json, or, for
// shards == 0, one model.safetensors without an index.
// Failure: invalid_argument (more shards than tensors, a tensor neither BF16
// nor U8 or of no gpt-oss name), io_error (with the path).
Status write_hf_layout(const Checkpoint& source, const std::filesystem::path& directory, size_t shards);

}  // namespace ossrt
