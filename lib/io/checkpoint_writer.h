// The pieces of a synthetic checkpoint: the tensor list of a configuration
// with each tensor's random distribution, and the safetensors header. The
// library writes whole checkpoints with them (ossrt/synthetic.hpp); tests use
// them to build deliberately broken files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "ossrt/model_config.hpp"
#include "ossrt/status.hpp"

namespace ossrt {

// How fill_random draws a tensor: bf16 uniform in center +- spread, or bytes
// uniform in [low, high].
struct RandomFill {
  float center = 0, spread = 0;
  int low = 0, high = 0;
};

struct TensorSpec {
  std::string name;
  std::string dtype;  // safetensors spelling: "BF16", "U8"
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // empty until filled
  RandomFill fill;
};

// Bytes of the tensor's data (its filled bytes, or what its shape needs).
size_t tensor_byte_size(const TensorSpec& tensor);

// Every tensor of a checkpoint for `config`, in file order, not yet filled.
std::vector<TensorSpec> tensor_layout(const ModelConfig& config);

// The random stream of tensor number `index` of a checkpoint drawn from `seed`.
uint64_t tensor_stream(uint64_t seed, size_t index);

// Bytes [first_byte, first_byte + out.size()) of the tensor's random content.
// Every element is a hash of (stream, element index), so any range can be
// generated alone and ranges in parallel, always with the same result.
// first_byte and out.size() are even for BF16 tensors.
void fill_random(const TensorSpec& tensor, uint64_t stream, size_t first_byte, std::span<uint8_t> out);

// The JSON header for the tensors laid out back to back after `leading_gap`
// bytes, padded with spaces to a multiple of 8 as safetensors does.
std::string safetensors_header(const std::vector<TensorSpec>& tensors, size_t leading_gap = 0);

// `value` as a JSON number that reads back exactly and reads as a float
// ("7.0", not "7").
std::string json_number(double value);

// The 8-byte little-endian header length followed by the header.
std::string safetensors_prefix(const std::string& header);

// Writes `text` to `path` (replacing it). Failure: io_error naming the path.
Status write_text_file(const std::filesystem::path& path, const std::string& text);

}  // namespace ossrt
