// The original gpt-oss layout, what the reference loads (original/ on the
// Hub): config.json with exactly its 16 keys and every *.safetensors file of
// the directory, the tensors under the canonical names, the attention input
// fused (block.N.attn.qkv.*).
#pragma once

#include <filesystem>

#include "io/checkpoint.h"

namespace ossrt {

// Whether `directory` has config.json and at least one *.safetensors file.
bool holds_original_layout(const std::filesystem::path& directory);

// Reads checkpoint.directory into `checkpoint` (config and tensors).
// Failure: as open_checkpoint; not_found names config.json or "no
// *.safetensors"; invalid_checkpoint names both files of a tensor in two.
Status read_original_layout(Checkpoint& checkpoint, bool in_memory);

}  // namespace ossrt
