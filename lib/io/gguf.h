// The GGUF container (llama.cpp's format, versions 2 and 3, little-endian):
// "GGUF", version, tensor and key counts, typed metadata key/values, tensor
// infos (name, dims, ggml type, offset), then the aligned data section. This
// reader knows no model: mapping gpt-oss names onto weights is another layer's
// job. It parses bytes already mapped; keys, strings, tensor names and tensor
// data are views into those bytes, which must outlive the GgufFile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "ossrt/status.hpp"

namespace ossrt {

// Metadata value types, numbered as in the GGUF specification.
enum class GgufType : uint32_t {
  u8 = 0,
  i8 = 1,
  u16 = 2,
  i16 = 3,
  u32 = 4,
  i32 = 5,
  f32 = 6,
  boolean = 7,
  string = 8,
  array = 9,
  u64 = 10,
  i64 = 11,
  f64 = 12,
};

// The GGUF type of a C++ value type (a scalar, or std::string_view for string).
template <class T>
constexpr GgufType gguf_type_of() {
  if constexpr (std::is_same_v<T, uint8_t>) return GgufType::u8;
  if constexpr (std::is_same_v<T, int8_t>) return GgufType::i8;
  if constexpr (std::is_same_v<T, uint16_t>) return GgufType::u16;
  if constexpr (std::is_same_v<T, int16_t>) return GgufType::i16;
  if constexpr (std::is_same_v<T, uint32_t>) return GgufType::u32;
  if constexpr (std::is_same_v<T, int32_t>) return GgufType::i32;
  if constexpr (std::is_same_v<T, uint64_t>) return GgufType::u64;
  if constexpr (std::is_same_v<T, int64_t>) return GgufType::i64;
  if constexpr (std::is_same_v<T, float>) return GgufType::f32;
  if constexpr (std::is_same_v<T, double>) return GgufType::f64;
  if constexpr (std::is_same_v<T, bool>) return GgufType::boolean;
  if constexpr (std::is_same_v<T, std::string_view>) return GgufType::string;
}

// "u32", "string", "array"...; "unknown" for a number outside the list.
const char* gguf_type_name(GgufType type) noexcept;

// The ggml tensor types whose bytes this reader hands out (ids from ggml.h).
enum class GgmlType : uint32_t { f32 = 0, f16 = 1, q8_0 = 8, bf16 = 30, mxfp4 = 39 };

// ggml's block types: 32 weights a block; MXFP4 an E8M0 scale byte and 16
// bytes of nibbles, Q8_0 an fp16 scale and 32 int8.
inline constexpr size_t kGgmlBlockValues = 32;
inline constexpr size_t kGgmlMxfp4BlockBytes = 17;
inline constexpr size_t kGgmlQ8_0BlockBytes = 34;

// Bytes of `elements` values of a GgmlType (a multiple of its block); 0 for
// another type id.
uint64_t ggml_tensor_bytes(uint32_t type_id, uint64_t elements) noexcept;

// ggml's name of a tensor type id ("Q4_K", "MXFP4"); "unknown" past the list.
const char* ggml_type_name(uint32_t type_id) noexcept;

// An array value. Numbers and bools stay as their little-endian bytes in the
// file (`raw`, count x element size); strings and nested arrays are decoded.
struct GgufArray {
  GgufType element_type = GgufType::u8;
  uint64_t count = 0;
  std::span<const uint8_t> raw;           // numeric and bool elements
  std::vector<std::string_view> strings;  // string elements
  std::vector<GgufArray> arrays;          // nested array elements
};

struct GgufValue {
  GgufType type = GgufType::u8;
  uint64_t bits = 0;      // a scalar's little-endian bytes, zero-extended (bool: 0 or 1)
  std::string_view text;  // a string
  GgufArray array;        // an array
};

struct GgufKeyValue {
  std::string_view key;
  GgufValue value;
  uint64_t offset = 0;  // file byte where the entry starts, for messages
};

struct GgufTensor {
  std::string_view name;
  uint32_t type_id = 0;       // ggml type id; see GgmlType and ggml_type_name
  std::vector<int64_t> dims;  // ggml order: dims[0] is the contiguous one
  uint64_t offset = 0;        // from the start of the data section
  uint64_t bytes = 0;         // data size; 0 when the type is not supported
  bool supported = false;     // a GgmlType: its range was checked and tensor_bytes gives it
  uint64_t info_offset = 0;   // file byte where its tensor info starts, for messages
};

class GgufFile {
 public:
  uint32_t version() const noexcept { return version_; }
  uint32_t alignment() const noexcept { return alignment_; }
  uint64_t data_offset() const noexcept { return data_offset_; }  // file byte where the data section starts
  const std::vector<GgufKeyValue>& metadata() const noexcept { return metadata_; }  // file order
  const std::vector<GgufTensor>& tensors() const noexcept { return tensors_; }      // file order

  // nullptr when absent. Thread rules: const members are safe to call from
  // any number of threads at once.
  const GgufValue* find(std::string_view key) const noexcept;
  const GgufTensor* find_tensor(std::string_view name) const noexcept;

  // The value of `key` when it has exactly the GGUF type of T (uint8_t...
  // uint64_t, int8_t... int64_t, float, double, bool, std::string_view).
  // Failure: not_found (no such key), invalid_config (another type; the
  // message names the key and both types).
  template <class T>
  Result<T> get(std::string_view key) const;

  // Any integer type whose value is non-negative, widened. Failure: not_found,
  // invalid_config (not an integer, or negative).
  Result<uint64_t> get_uint(std::string_view key) const;

  // Array values. get_numbers: every element when the element type is exactly
  // T's (as get<T>). get_strings: an array of strings. get_array: any array.
  // Failure: not_found, invalid_config (not an array, or another element type).
  template <class T>
  Result<std::vector<T>> get_numbers(std::string_view key) const;
  Result<std::span<const std::string_view>> get_strings(std::string_view key) const;
  Result<const GgufArray*> get_array(std::string_view key) const;

  // The data of tensor `name`, inside the parsed bytes (no copy). Failure:
  // tensor_mismatch (no such tensor), unsupported_dtype (a type this reader
  // does not support, named as ggml names it: "Q4_K").
  Result<std::span<const uint8_t>> tensor_bytes(std::string_view name) const;

 private:
  friend Result<GgufFile> parse_gguf_unguarded(std::span<const uint8_t> bytes, const std::string& file_name);
  Result<const GgufValue*> typed(std::string_view key, GgufType type) const;

  std::string file_name_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::span<const uint8_t> data_;
  std::vector<GgufKeyValue> metadata_;
  std::vector<GgufTensor> tensors_;
  std::unordered_map<std::string_view, size_t> key_index_;
  std::unordered_map<std::string_view, size_t> tensor_index_;
};

// Parses a GGUF file held in `bytes`; `file_name` names it in messages.
// Checks: magic, version 2 or 3 (1 and newer ones refused), counts the file
// size can hold, every key/value (known type, bool 0 or 1, lengths and array
// counts within the file, arrays nested at most 8 deep), unique UTF-8 keys
// and tensor names, general.alignment (u32, a power of two; default 32),
// tensor infos (1 to 4 dims, dims product within int64, the first dim a
// multiple of the type's block), the data section start (aligned) within the
// file, and each tensor's offset aligned; a supported type's byte range lies
// in the data section and overlaps no other tensor; an unsupported type's
// offset lies in the data section, outside other tensors' ranges.
// Failure: invalid_checkpoint, the message naming the file, the key or tensor,
// and the byte offset; out_of_memory. Never reads outside `bytes` and never
// throws; allocation is bounded by about 14x the header's size (a key/value
// of at least 13 bytes takes ~180 bytes decoded, a string element of at least
// 8 takes 16). Thread rules: none (no shared state).
Result<GgufFile> parse_gguf(std::span<const uint8_t> bytes, const std::string& file_name);

}  // namespace ossrt
