// llama.cpp's GGUF file of gpt-oss (architecture "gpt-oss", as its
// convert_hf_to_gguf.py writes it, then llama-quantize may requantize the
// dense tensors). Config: gguf_config.h. Tensors, ggml dims reversed to
// shapes, onto canonical names:
//   token_embd.weight                     embedding.weight
//   blk.N.attn_norm.weight                block.N.attn.norm.scale
//   blk.N.attn_{q,k,v}.{weight,bias}      block.N.attn.{q,k,v}.*  (split)
//   blk.N.attn_output.{weight,bias}       block.N.attn.out.*
//   blk.N.attn_sinks(.weight)             block.N.attn.sinks
//   blk.N.post_attention_norm.weight      block.N.mlp.norm.scale
//   blk.N.ffn_gate_inp.{weight,bias}      block.N.mlp.gate.*
//   blk.N.ffn_{gate,up}_exps.{weight,bias}, or the fused
//   blk.N.ffn_gate_up_exps.{weight,bias}  block.N.mlp.mlp1_weight.{blocks,scales}, mlp1_bias
//   blk.N.ffn_down_exps.{weight,bias}     block.N.mlp.mlp2_weight.{blocks,scales}, mlp2_bias
//   output_norm.weight                    norm.scale
//   output.weight                         unembedding.weight
// What is used in place and what is converted at load:
//  - dense matrices: Q8_0 and BF16 in place; F16 and F32 rounded to bf16
//    (exact for weights that came from gpt-oss's bf16 checkpoint).
//  - norms, biases, sinks (F32 in llama.cpp's files): to bf16, likewise.
//  - experts, MXFP4: the converter split gate and up rows (ggml order) and
//    stores each 32-weight block as 17 bytes, its scale byte then 16 bytes
//    whose low nibbles hold weights 0-15 and high nibbles 16-31. The kernels
//    read the original layout (rows alternating gate / up, scales apart,
//    nibbles in pairs), so the experts are repacked once into private memory
//    (huge pages): about the file's size in memory (11.3 GiB for 20b), and
//    the mapped pages of the file's experts are released after each tensor.
// Experts in any other type, and dense tensors in other ggml types (Q4_K,
// ...), are refused, naming the tensor and its type; so is one part of a
// split GGUF (split.count > 1), with the command that merges the parts.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "io/checkpoint.h"

namespace ossrt {

// Whether `path` is a regular file that starts with the GGUF magic.
bool is_gguf_file(const std::filesystem::path& path);

// The single *.gguf file directly in `directory`; an empty path when there
// is none. Failure: invalid_argument (several: the message lists them and
// asks for one by path), io_error (cannot list).
Result<std::filesystem::path> find_gguf_file(const std::filesystem::path& directory);

// Reads GGUF `file` into `checkpoint` (directory: the file's). With
// `metadata_only`, tensors converted at load are described (dtype, shape,
// bytes after conversion) with null data and nothing is converted: for
// estimates. Failure: those of MappedFile::open and parse_gguf,
// invalid_config / unsupported (gguf_config.h), unsupported_dtype (a tensor
// of a type ossrt does not compute, named with its ggml type),
// invalid_checkpoint (experts whose tensors disagree in type or shape),
// tensor_mismatch (a tensor gpt-oss does not have), out_of_memory.
Status read_gguf_layout(Checkpoint& checkpoint, const std::filesystem::path& file, bool in_memory, bool metadata_only);

// The GGUF name of canonical tensor `canonical` ("block.2.attn.out.weight" ->
// "blk.2.attn_output.weight"), or `canonical` if it has none.
std::string gguf_tensor_name(std::string_view canonical);

}  // namespace ossrt
