// The safetensors container: u64 little-endian header length, a JSON header
// naming each tensor's dtype, shape and byte range, then the tensor bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ossrt/status.hpp"

namespace ossrt {

// q8_0: ggml's Q8_0 blocks (backend.h), which only GGUF files hold; a
// tensor of that type has its logical shape and blocks of 34 bytes per 32.
enum class DType : uint8_t { bool_, u8, i8, f8_e5m2, f8_e4m3, i16, u16, f16, bf16, i32, u32, f32, f64, i64, u64, q8_0 };

const char* dtype_name(DType dtype) noexcept;  // safetensors spelling: "BF16"
size_t dtype_size(DType dtype) noexcept;       // bytes per element; alignment 1 for q8_0 blocks

struct TensorEntry {
  std::string name;
  DType dtype = DType::u8;
  std::vector<int64_t> shape;
  const uint8_t* data = nullptr;  // inside the mapped file
  size_t bytes = 0;
};

// The header length a safetensors file's first 8 bytes hold (little-endian
// on any host).
uint64_t safetensors_header_length(const uint8_t* head) noexcept;

// Parses the safetensors file held in [data, data + size). Every entry is
// checked: known dtype, non-negative shape, byte range matching dtype x shape,
// inside the file, not overlapping another tensor. `source` names the file in
// messages. Failure: invalid_checkpoint (truncated file, header length beyond
// the file, invalid JSON, malformed entry, bad/overlapping offsets) or
// unsupported_dtype; the message names the file and the tensor.
Result<std::vector<TensorEntry>> parse_safetensors(const uint8_t* data, size_t size, const std::string& source);

}  // namespace ossrt
