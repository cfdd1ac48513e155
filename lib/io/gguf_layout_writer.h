// Writing a checkpoint as llama.cpp's GGUF of gpt-oss (layout_gguf.h), the
// way its converter and llama-quantize do: the same model in both forms for
// tests and fixtures, without Python.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "io/checkpoint.h"

namespace ossrt {

// The format of the dense matrices (attention, router, embeddings).
enum class GgufDenseType : uint8_t { bf16, f32, q8_0 };

struct GgufWriteOptions {
  GgufDenseType dense = GgufDenseType::q8_0;
  // One ffn_gate_up_exps tensor (gate rows, then up rows) as newer converters
  // write, instead of ffn_gate_exps and ffn_up_exps.
  bool fused_gate_up = false;
  // Each 32-weight block of a dense matrix rounded to a power-of-two scale
  // times an int8, in whichever dense type is written: such values are exact
  // in Q8_0 and in bf16, so a Q8_0 file and a bf16 file of one snapped model
  // hold the same weights. Off: llama-quantize's Q8_0 (scale amax / 127).
  bool snap_dense_to_q8_0 = false;
  // tokenizer.ggml.tokens (with model "gpt2") when not empty.
  std::vector<std::string> tokens;
};

// Writes `source` (any layout but GGUF) to `file`: general.architecture
// "gpt-oss", the gpt-oss.* hyperparameters (YaRN, sliding window, experts),
// F32 norms, biases and sinks, experts in ggml's MXFP4 blocks with gate and
// up rows split (or fused), dense matrices per `options`.
// Failure: invalid_argument (a GGUF source, a tensor of another dtype),
// io_error (with the path).
Status write_gguf_layout(const Checkpoint& source, const std::filesystem::path& file, const GgufWriteOptions& options);

}  // namespace ossrt
