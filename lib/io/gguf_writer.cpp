#include "io/gguf_writer.h"

#include <algorithm>
#include <bit>

namespace ossrt {
namespace {

// A scalar's little-endian bytes.
template <class T>
void put_scalar(std::vector<uint8_t>& out, T value) {
  uint64_t bits = 0;
  if constexpr (std::is_same_v<T, float>) {
    bits = std::bit_cast<uint32_t>(value);
  } else if constexpr (std::is_same_v<T, double>) {
    bits = std::bit_cast<uint64_t>(value);
  } else {
    bits = static_cast<uint64_t>(value);
  }
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<uint8_t>(bits >> (8 * i)));
}

uint64_t align_up(uint64_t value, uint64_t alignment) {
  return (value + alignment - 1) / alignment * alignment;
}

}  // namespace

void gguf_put_u32(std::vector<uint8_t>& out, uint32_t value) {
  put_scalar(out, value);
}
void gguf_put_u64(std::vector<uint8_t>& out, uint64_t value) {
  put_scalar(out, value);
}

void gguf_put_string(std::vector<uint8_t>& out, std::string_view text) {
  gguf_put_u64(out, text.size());
  out.insert(out.end(), text.begin(), text.end());
}

void GgufWriter::add_encoded(std::string_view key, GgufType type, std::span<const uint8_t> value) {
  gguf_put_string(kv_bytes_, key);
  gguf_put_u32(kv_bytes_, static_cast<uint32_t>(type));
  kv_bytes_.insert(kv_bytes_.end(), value.begin(), value.end());
  ++kv_count_;
}

template <class T>
void GgufWriter::add(std::string_view key, T value) {
  std::vector<uint8_t> bytes;
  put_scalar(bytes, value);
  add_encoded(key, gguf_type_of<T>(), bytes);
}

void GgufWriter::add_string(std::string_view key, std::string_view value) {
  std::vector<uint8_t> bytes;
  gguf_put_string(bytes, value);
  add_encoded(key, GgufType::string, bytes);
}

template <class T>
void GgufWriter::add_array(std::string_view key, std::span<const T> values) {
  std::vector<uint8_t> bytes;
  gguf_put_u32(bytes, static_cast<uint32_t>(gguf_type_of<T>()));
  gguf_put_u64(bytes, values.size());
  for (T value : values) put_scalar(bytes, value);
  add_encoded(key, GgufType::array, bytes);
}

void GgufWriter::add_string_array(std::string_view key, std::span<const std::string> values) {
  std::vector<uint8_t> bytes;
  gguf_put_u32(bytes, static_cast<uint32_t>(GgufType::string));
  gguf_put_u64(bytes, values.size());
  for (const std::string& value : values) gguf_put_string(bytes, value);
  add_encoded(key, GgufType::array, bytes);
}

#define OSSRT_GGUF_WRITER_TYPE(T)                        \
  template void GgufWriter::add<T>(std::string_view, T); \
  template void GgufWriter::add_array<T>(std::string_view, std::span<const T>);
OSSRT_GGUF_WRITER_TYPE(uint8_t)
OSSRT_GGUF_WRITER_TYPE(int8_t)
OSSRT_GGUF_WRITER_TYPE(uint16_t)
OSSRT_GGUF_WRITER_TYPE(int16_t)
OSSRT_GGUF_WRITER_TYPE(uint32_t)
OSSRT_GGUF_WRITER_TYPE(int32_t)
OSSRT_GGUF_WRITER_TYPE(uint64_t)
OSSRT_GGUF_WRITER_TYPE(int64_t)
OSSRT_GGUF_WRITER_TYPE(float)
OSSRT_GGUF_WRITER_TYPE(double)
OSSRT_GGUF_WRITER_TYPE(bool)
#undef OSSRT_GGUF_WRITER_TYPE

std::vector<uint8_t> GgufWriter::encode_header(std::vector<uint64_t>& offsets, uint64_t& data_bytes) const {
  std::vector<uint8_t> out = {'G', 'G', 'U', 'F'};
  gguf_put_u32(out, version);
  gguf_put_u64(out, tensors_.size());
  gguf_put_u64(out, kv_count_);
  out.insert(out.end(), kv_bytes_.begin(), kv_bytes_.end());
  offsets.clear();
  data_bytes = 0;
  for (const GgufTensorSpec& tensor : tensors_) {
    const uint64_t offset = tensor.offset.value_or(align_up(data_bytes, alignment_));
    offsets.push_back(offset);
    data_bytes = std::max(data_bytes, offset + data_size(tensor));
    gguf_put_string(out, tensor.name);
    gguf_put_u32(out, static_cast<uint32_t>(tensor.dims.size()));
    for (uint64_t dim : tensor.dims) gguf_put_u64(out, dim);
    gguf_put_u32(out, tensor.type_id);
    gguf_put_u64(out, offset);
  }
  out.resize(align_up(out.size(), alignment_), 0);
  return out;
}

std::vector<uint8_t> GgufWriter::encode() const {
  std::vector<uint64_t> offsets;
  uint64_t data_bytes = 0;
  std::vector<uint8_t> out = encode_header(offsets, data_bytes);
  const size_t data_start = out.size();
  out.resize(data_start + data_bytes, 0);
  for (size_t i = 0; i < tensors_.size(); ++i) {
    std::copy(tensors_[i].data.begin(), tensors_[i].data.end(), out.begin() + data_start + offsets[i]);
  }
  return out;
}

Status GgufWriter::write(std::ostream& out, const std::function<std::vector<uint8_t>(size_t)>& produce) const {
  std::vector<uint64_t> offsets;
  uint64_t data_bytes = 0;
  const std::vector<uint8_t> header = encode_header(offsets, data_bytes);
  out.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
  // Streamed tensors go in file order, each at its offset (padding between).
  uint64_t written = 0;
  for (size_t i = 0; i < tensors_.size() && out; ++i) {
    const std::vector<uint8_t> streamed = tensors_[i].data.empty() ? produce(i) : std::vector<uint8_t>();
    const std::vector<uint8_t>& bytes = tensors_[i].data.empty() ? streamed : tensors_[i].data;
    if (offsets[i] < written || bytes.size() != data_size(tensors_[i])) {
      return Status(StatusCode::invalid_argument, "GgufWriter::write: tensors must be in offset order, sized");
    }
    const std::vector<char> padding(offsets[i] - written, 0);
    out.write(padding.data(), static_cast<std::streamsize>(padding.size()));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    written = offsets[i] + bytes.size();
  }
  if (!out) return Status(StatusCode::io_error, "GgufWriter::write: the stream failed");
  return Status::success();
}

}  // namespace ossrt
