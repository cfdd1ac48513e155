// Writing GGUF files (gguf.h) in memory: tests and fixtures build the files
// the reader must accept, and alter their bytes for the ones it must refuse.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/gguf.h"
#include "ossrt/status.hpp"

namespace ossrt {

struct GgufTensorSpec {
  std::string name;
  uint32_t type_id = 0;        // ggml type id
  std::vector<uint64_t> dims;  // ggml order: dims[0] contiguous
  std::vector<uint8_t> data;   // written at `offset`
  // Offset in the data section; unset: the next aligned byte after the
  // previous tensor. Tests set it to write misplaced tensors.
  std::optional<uint64_t> offset;
  // Size of the data when `data` is empty and write() streams it instead.
  uint64_t streamed_bytes = 0;
};

// Collects key/values and tensors, then encodes them (GGUF version 3 unless
// `version` says otherwise). The writer checks nothing: it writes what it is
// given, so tests can write malformed files too. Not thread-safe.
class GgufWriter {
 public:
  explicit GgufWriter(uint32_t alignment = 32) : alignment_(alignment) {}

  // A scalar key of T's GGUF type (the types GgufFile::get takes).
  template <class T>
  void add(std::string_view key, T value);
  void add_string(std::string_view key, std::string_view value);
  // An array of scalars of T's type, or of strings.
  template <class T>
  void add_array(std::string_view key, std::span<const T> values);
  void add_string_array(std::string_view key, std::span<const std::string> values);
  // A key with an already encoded value (its type, then its bytes): nested
  // arrays and values a test breaks on purpose. encode_* build such bytes.
  void add_encoded(std::string_view key, GgufType type, std::span<const uint8_t> value);

  void add_tensor(GgufTensorSpec tensor) { tensors_.push_back(std::move(tensor)); }

  uint32_t version = 3;

  // The whole file: header, key/values, tensor infos, padding to the
  // alignment, tensor data (each at its offset, zero padding between).
  std::vector<uint8_t> encode() const;

  // The same file streamed to `out`, each tensor's data from produce(index)
  // (streamed_bytes long, for tensors added without data), so a file of
  // gigabytes needs one tensor in memory at a time. Failure: io_error.
  Status write(std::ostream& out, const std::function<std::vector<uint8_t>(size_t)>& produce) const;

 private:
  // Header, key/values and tensor infos padded to the data section; each
  // tensor's offset in it and the section's size.
  std::vector<uint8_t> encode_header(std::vector<uint64_t>& offsets, uint64_t& data_bytes) const;
  static uint64_t data_size(const GgufTensorSpec& tensor) {
    return tensor.data.empty() ? tensor.streamed_bytes : tensor.data.size();
  }

  uint32_t alignment_;
  uint64_t kv_count_ = 0;
  std::vector<uint8_t> kv_bytes_;
  std::vector<GgufTensorSpec> tensors_;
};

// Little-endian encodings, appended to `out`.
void gguf_put_u32(std::vector<uint8_t>& out, uint32_t value);
void gguf_put_u64(std::vector<uint8_t>& out, uint64_t value);
void gguf_put_string(std::vector<uint8_t>& out, std::string_view text);

}  // namespace ossrt
