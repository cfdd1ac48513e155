#include "io/gguf.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "util/errors.h"

namespace ossrt {
namespace {

constexpr uint8_t kMagic[4] = {'G', 'G', 'U', 'F'};
constexpr uint32_t kDefaultAlignment = 32;
constexpr int kMaxArrayDepth = 8;  // gguf-py writes flat arrays; depth bounds the recursion
constexpr uint32_t kMaxDims = 4;   // GGML_MAX_DIMS
// Smallest encodings: a key/value is a key length, a type and one byte; a
// tensor info a name length, n_dims, one dim, a type and an offset.
constexpr uint64_t kMinKeyValueBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;

// ggml.h's type ids; the empty slots are ids ggml retired.
constexpr const char* kGgmlTypeNames[] = {
    "F32",   "F16",    "Q4_0",  "Q4_1", "",     "",        "Q5_0",   "Q5_1",    "Q8_0",  "Q8_1",   "Q2_K",
    "Q3_K",  "Q4_K",   "Q5_K",  "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",
    "IQ2_S", "IQ4_XS", "I8",    "I16",  "I32",  "I64",     "F64",    "IQ1_M",   "BF16",  "",       "",
    "",      "TQ1_0",  "TQ2_0", "",     "",     "",        "MXFP4",  "NVFP4",   "Q1_0",
};

struct BlockLayout {
  GgmlType type;
  uint32_t elements;  // per block
  uint32_t bytes;     // per block
};
// MXFP4 (ggml-common.h block_mxfp4) and Q8_0 (block_q8_0): gguf.h.
constexpr BlockLayout kSupported[] = {
    {GgmlType::f32, 1, 4},
    {GgmlType::f16, 1, 2},
    {GgmlType::bf16, 1, 2},
    {GgmlType::q8_0, kGgmlBlockValues, kGgmlQ8_0BlockBytes},
    {GgmlType::mxfp4, kGgmlBlockValues, kGgmlMxfp4BlockBytes},
};

const BlockLayout* find_layout(uint32_t type_id) {
  for (const BlockLayout& layout : kSupported) {
    if (static_cast<uint32_t>(layout.type) == type_id) return &layout;
  }
  return nullptr;
}

// Bytes of one element of a scalar type, indexed by GgufType; 0 for string and array.
constexpr uint8_t kScalarSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

uint64_t scalar_size(GgufType type) {
  return kScalarSizes[static_cast<uint32_t>(type)];
}  // a known type

bool known_type(uint32_t type) {
  return type <= static_cast<uint32_t>(GgufType::f64);
}

// Fewest bytes one element of `type` takes: a string its length, an array
// its element type and count.
uint64_t min_element_size(GgufType type) {
  if (type == GgufType::string) return 8;
  if (type == GgufType::array) return 4 + 8;
  return scalar_size(type);
}

bool valid_utf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<uint8_t>(text[i]);
    size_t extra = 0;
    uint32_t code = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xE0) == 0xC0) {
      extra = 1, code = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      extra = 2, code = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      extra = 3, code = lead & 0x07;
    } else {
      return false;
    }
    if (text.size() - i <= extra) return false;
    for (size_t k = 1; k <= extra; ++k) {
      const auto next = static_cast<uint8_t>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3F);
    }
    constexpr uint32_t kSmallest[] = {0, 0x80, 0x800, 0x10000};
    if (code < kSmallest[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

// A cursor over the file. Every read checks the bytes left first, so a
// length or count from the file can never move it past the end.
class Cursor {
 public:
  Cursor(std::span<const uint8_t> bytes, const std::string& file) : bytes_(bytes), file_(file.c_str()) {}

  uint64_t pos() const { return pos_; }
  uint64_t left() const { return bytes_.size() - pos_; }
  const char* file() const { return file_; }

  // `what` names the field ("key 'general.name': string length").
  Status fail(uint64_t at, const std::string& what, const char* problem) const {
    return error(StatusCode::invalid_checkpoint, "%s: %s at byte %llu: %s", file_, what.c_str(),
                 static_cast<unsigned long long>(at), problem);
  }

  Status need(uint64_t n, const std::string& what) const {
    if (n <= left()) return Status::success();
    return error(StatusCode::invalid_checkpoint,
                 "%s: %s at byte %llu needs %llu bytes, the file has %llu left (%zu in all): truncated file", file_,
                 what.c_str(), static_cast<unsigned long long>(pos_), static_cast<unsigned long long>(n),
                 static_cast<unsigned long long>(left()), bytes_.size());
  }

  template <class T>
  Status read(T& out, const std::string& what) {
    if (Status s = need(sizeof(T), what); !s) return s;
    uint64_t v = 0;
    for (size_t i = sizeof(T); i-- > 0;) v = (v << 8) | bytes_[pos_ + i];  // little-endian on any host
    out = static_cast<T>(v);
    pos_ += sizeof(T);
    return Status::success();
  }

  std::span<const uint8_t> take(uint64_t n) {  // after need(n)
    auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }

  Status read_string(std::string_view& out, const std::string& what) {
    const uint64_t at = pos_;
    uint64_t length = 0;
    if (Status s = read(length, what + " length"); !s) return s;
    if (length > left()) {
      return error(StatusCode::invalid_checkpoint,
                   "%s: %s at byte %llu: length %llu runs past the end of the file (%llu bytes left)", file_,
                   what.c_str(), static_cast<unsigned long long>(at), static_cast<unsigned long long>(length),
                   static_cast<unsigned long long>(left()));
    }
    auto span = take(length);
    out = std::string_view(reinterpret_cast<const char*>(span.data()), span.size());
    return Status::success();
  }

  // Refuses `count` elements of at least `each` bytes that the rest of the
  // file cannot hold, before anything is allocated for them.
  Status check_count(uint64_t count, uint64_t each, uint64_t at, const std::string& what) const {
    if (count <= left() / each) return Status::success();
    return error(StatusCode::invalid_checkpoint,
                 "%s: %s at byte %llu: count %llu needs at least %llu bytes each, more than the %llu bytes left", file_,
                 what.c_str(), static_cast<unsigned long long>(at), static_cast<unsigned long long>(count),
                 static_cast<unsigned long long>(each), static_cast<unsigned long long>(left()));
  }

 private:
  std::span<const uint8_t> bytes_;
  const char* file_;
  uint64_t pos_ = 0;
};

Status read_type(Cursor& in, GgufType& out, const std::string& what) {
  const uint64_t at = in.pos();
  uint32_t raw = 0;
  if (Status s = in.read(raw, what); !s) return s;
  if (!known_type(raw)) return in.fail(at, what, format("unknown value type %u", raw).c_str());
  out = static_cast<GgufType>(raw);
  return Status::success();
}

Status read_array(Cursor& in, GgufArray& out, const std::string& what, int depth);

Status read_value(Cursor& in, GgufType type, GgufValue& out, const std::string& what) {
  out.type = type;
  if (type == GgufType::string) return in.read_string(out.text, what);
  if (type == GgufType::array) return read_array(in, out.array, what, 1);
  const uint64_t at = in.pos();
  const uint64_t size = scalar_size(type);
  if (Status s = in.need(size, what); !s) return s;
  auto raw = in.take(size);
  for (uint64_t i = size; i-- > 0;) out.bits = (out.bits << 8) | raw[i];
  if (type == GgufType::boolean && out.bits > 1) {
    return in.fail(at, what,
                   format("bool value %llu is neither 0 nor 1", static_cast<unsigned long long>(out.bits)).c_str());
  }
  return Status::success();
}

Status read_array(Cursor& in, GgufArray& out, const std::string& what, int depth) {
  if (depth > kMaxArrayDepth) {
    return in.fail(in.pos(), what, format("arrays nested more than %d deep", kMaxArrayDepth).c_str());
  }
  if (Status s = read_type(in, out.element_type, what + " element type"); !s) return s;
  const uint64_t count_at = in.pos();
  if (Status s = in.read(out.count, what + " element count"); !s) return s;
  if (Status s = in.check_count(out.count, min_element_size(out.element_type), count_at, what + " element count"); !s)
    return s;
  const std::string element = what + " element";  // built once: a vocabulary has ~200k strings
  if (out.element_type == GgufType::string) {
    out.strings.resize(out.count);
    for (std::string_view& text : out.strings) {
      if (Status s = in.read_string(text, element); !s) return s;
    }
  } else if (out.element_type == GgufType::array) {
    out.arrays.resize(out.count);
    for (GgufArray& nested : out.arrays) {
      if (Status s = read_array(in, nested, element, depth + 1); !s) return s;
    }
  } else {
    const uint64_t at = in.pos();
    out.raw = in.take(out.count * scalar_size(out.element_type));  // check_count bounded it
    if (out.element_type == GgufType::boolean) {
      for (size_t i = 0; i < out.raw.size(); ++i) {
        if (out.raw[i] > 1) return in.fail(at + i, what, format("bool element %zu is neither 0 nor 1", i).c_str());
      }
    }
  }
  return Status::success();
}

std::string quoted(const char* kind, std::string_view name) {
  return std::string(kind) + " '" + std::string(name) + "'";
}

Status read_key_values(Cursor& in, uint64_t count, std::vector<GgufKeyValue>& out,
                       std::unordered_map<std::string_view, size_t>& index) {
  out.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    GgufKeyValue entry;
    entry.offset = in.pos();
    const std::string ordinal = format("key/value %llu", static_cast<unsigned long long>(i));
    if (Status s = in.read_string(entry.key, ordinal + " key"); !s) return s;
    const std::string what = quoted("key", entry.key);
    if (!valid_utf8(entry.key)) return in.fail(entry.offset, ordinal, "key is not valid UTF-8");
    if (!index.emplace(entry.key, out.size()).second) return in.fail(entry.offset, what, "key appears twice");
    GgufType type{};
    if (Status s = read_type(in, type, what + " type"); !s) return s;
    if (Status s = read_value(in, type, entry.value, what); !s) return s;
    out.push_back(std::move(entry));
  }
  return Status::success();
}

Status read_tensor_info(Cursor& in, GgufTensor& tensor, uint64_t ordinal) {
  tensor.info_offset = in.pos();
  const std::string label = format("tensor info %llu", static_cast<unsigned long long>(ordinal));
  if (Status s = in.read_string(tensor.name, label + " name"); !s) return s;
  if (!valid_utf8(tensor.name)) return in.fail(tensor.info_offset, label, "name is not valid UTF-8");
  const std::string what = quoted("tensor", tensor.name);
  const uint64_t dims_at = in.pos();
  uint32_t n_dims = 0;
  if (Status s = in.read(n_dims, what + " n_dims"); !s) return s;
  if (n_dims == 0 || n_dims > kMaxDims) {
    return in.fail(dims_at, what, format("n_dims %u is outside 1..%u", n_dims, kMaxDims).c_str());
  }
  uint64_t elements = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    const uint64_t at = in.pos();
    uint64_t dim = 0;
    if (Status s = in.read(dim, what + " dim"); !s) return s;
    constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (dim > kMax || (dim != 0 && elements > kMax / dim)) {
      return in.fail(at, what, "element count overflows int64 (dims product)");
    }
    elements *= dim;
    tensor.dims.push_back(static_cast<int64_t>(dim));
  }
  if (Status s = in.read(tensor.type_id, what + " type"); !s) return s;
  if (Status s = in.read(tensor.offset, what + " offset"); !s) return s;
  const BlockLayout* layout = find_layout(tensor.type_id);
  tensor.supported = layout != nullptr;
  if (layout != nullptr) {
    if (tensor.dims[0] % layout->elements != 0) {
      return in.fail(tensor.info_offset, what,
                     format("first dim %lld is not a multiple of the %s block (%u elements)",
                            static_cast<long long>(tensor.dims[0]), ggml_type_name(tensor.type_id), layout->elements)
                         .c_str());
    }
    // elements <= 2^63 and bytes per element <= 4, so this fits 64 bits.
    tensor.bytes = elements / layout->elements * layout->bytes;
  }
  return Status::success();
}

struct Extent {
  uint64_t begin, end;
  const GgufTensor* tensor;
};

// Every tensor aligned and inside the data section; no two extents overlap.
Status check_tensor_ranges(const std::vector<GgufTensor>& tensors, uint64_t data_size, uint32_t alignment,
                           const char* file) {
  std::vector<Extent> extents;
  extents.reserve(tensors.size());
  for (const GgufTensor& t : tensors) {
    const auto name = static_cast<int>(t.name.size());
    const auto at = static_cast<unsigned long long>(t.info_offset);
    const auto offset = static_cast<unsigned long long>(t.offset);
    if (t.offset % alignment != 0) {
      return error(StatusCode::invalid_checkpoint,
                   "%s: tensor '%.*s' (info at byte %llu): data offset %llu is not a multiple of the alignment %u",
                   file, name, t.name.data(), at, offset, alignment);
    }
    // An unsupported type's size is unknown: its extent is its first byte.
    const uint64_t extent = t.supported ? t.bytes : 1;
    if (t.offset > data_size || extent > data_size - t.offset) {
      return error(StatusCode::invalid_checkpoint,
                   "%s: tensor '%.*s' (info at byte %llu): data [%llu, +%llu) extends past the %llu-byte data "
                   "section: truncated file or bad offset",
                   file, name, t.name.data(), at, offset, static_cast<unsigned long long>(extent),
                   static_cast<unsigned long long>(data_size));
    }
    extents.push_back(Extent{t.offset, t.offset + extent, &t});
  }
  std::sort(extents.begin(), extents.end(),
            [](const Extent& a, const Extent& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  for (size_t i = 1; i < extents.size(); ++i) {
    const Extent& a = extents[i - 1];
    const Extent& b = extents[i];
    if (b.begin < a.end) {
      return error(StatusCode::invalid_checkpoint, "%s: tensors '%.*s' [%llu, %llu) and '%.*s' [%llu, %llu) overlap",
                   file, static_cast<int>(a.tensor->name.size()), a.tensor->name.data(),
                   static_cast<unsigned long long>(a.begin), static_cast<unsigned long long>(a.end),
                   static_cast<int>(b.tensor->name.size()), b.tensor->name.data(),
                   static_cast<unsigned long long>(b.begin), static_cast<unsigned long long>(b.end));
    }
  }
  return Status::success();
}

// A scalar's little-endian bits as T.
template <class T>
T from_bits(uint64_t bits) {
  if constexpr (std::is_same_v<T, bool>) {
    return bits != 0;
  } else if constexpr (std::is_same_v<T, float>) {
    return std::bit_cast<float>(static_cast<uint32_t>(bits));
  } else if constexpr (std::is_same_v<T, double>) {
    return std::bit_cast<double>(bits);
  } else {
    return static_cast<T>(bits);  // two's complement: the low bytes are the value
  }
}

}  // namespace

const char* gguf_type_name(GgufType type) noexcept {
  constexpr const char* kNames[] = {"u8",   "i8",     "u16",   "i16", "u32", "i32", "f32",
                                    "bool", "string", "array", "u64", "i64", "f64"};
  const auto index = static_cast<uint32_t>(type);
  return index < std::size(kNames) ? kNames[index] : "unknown";
}

uint64_t ggml_tensor_bytes(uint32_t type_id, uint64_t elements) noexcept {
  const BlockLayout* layout = find_layout(type_id);
  return layout == nullptr ? 0 : elements / layout->elements * layout->bytes;
}

const char* ggml_type_name(uint32_t type_id) noexcept {
  if (type_id >= std::size(kGgmlTypeNames) || kGgmlTypeNames[type_id][0] == '\0') return "unknown";
  return kGgmlTypeNames[type_id];
}

const GgufValue* GgufFile::find(std::string_view key) const noexcept {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata_[it->second].value;
}

const GgufTensor* GgufFile::find_tensor(std::string_view name) const noexcept {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<const GgufValue*> GgufFile::typed(std::string_view key, GgufType type) const {
  const GgufValue* value = find(key);
  const auto key_length = static_cast<int>(key.size());
  if (value == nullptr) {
    return error(StatusCode::not_found, "%s: no key '%.*s'", file_name_.c_str(), key_length, key.data());
  }
  if (value->type != type) {
    return error(StatusCode::invalid_config, "%s: key '%.*s' is %s, expected %s", file_name_.c_str(), key_length,
                 key.data(), gguf_type_name(value->type), gguf_type_name(type));
  }
  return value;
}

template <class T>
Result<T> GgufFile::get(std::string_view key) const {
  auto value = typed(key, gguf_type_of<T>());
  if (!value.ok()) return value.status();
  if constexpr (std::is_same_v<T, std::string_view>) {
    return value.value()->text;
  } else {
    return from_bits<T>(value.value()->bits);
  }
}

template Result<uint8_t> GgufFile::get<uint8_t>(std::string_view) const;
template Result<int8_t> GgufFile::get<int8_t>(std::string_view) const;
template Result<uint16_t> GgufFile::get<uint16_t>(std::string_view) const;
template Result<int16_t> GgufFile::get<int16_t>(std::string_view) const;
template Result<uint32_t> GgufFile::get<uint32_t>(std::string_view) const;
template Result<int32_t> GgufFile::get<int32_t>(std::string_view) const;
template Result<uint64_t> GgufFile::get<uint64_t>(std::string_view) const;
template Result<int64_t> GgufFile::get<int64_t>(std::string_view) const;
template Result<float> GgufFile::get<float>(std::string_view) const;
template Result<double> GgufFile::get<double>(std::string_view) const;
template Result<bool> GgufFile::get<bool>(std::string_view) const;
template Result<std::string_view> GgufFile::get<std::string_view>(std::string_view) const;

Result<uint64_t> GgufFile::get_uint(std::string_view key) const {
  const GgufValue* value = find(key);
  const auto key_length = static_cast<int>(key.size());
  if (value == nullptr) {
    return error(StatusCode::not_found, "%s: no key '%.*s'", file_name_.c_str(), key_length, key.data());
  }
  const uint64_t size = scalar_size(value->type);
  const bool is_integer =
      size > 0 && value->type != GgufType::boolean && value->type != GgufType::f32 && value->type != GgufType::f64;
  const bool is_signed = value->type == GgufType::i8 || value->type == GgufType::i16 || value->type == GgufType::i32 ||
                         value->type == GgufType::i64;
  if (!is_integer) {
    return error(StatusCode::invalid_config, "%s: key '%.*s' is %s, expected an integer", file_name_.c_str(),
                 key_length, key.data(), gguf_type_name(value->type));
  }
  if (is_signed && (value->bits >> (size * 8 - 1)) != 0) {
    return error(StatusCode::invalid_config, "%s: key '%.*s' is negative", file_name_.c_str(), key_length, key.data());
  }
  return value->bits;
}

Result<const GgufArray*> GgufFile::get_array(std::string_view key) const {
  auto value = typed(key, GgufType::array);
  if (!value.ok()) return value.status();
  return &value.value()->array;
}

namespace {

Result<const GgufArray*> typed_array(const GgufFile& file, const std::string& file_name, std::string_view key,
                                     GgufType element_type) {
  auto array = file.get_array(key);
  if (!array.ok()) return array.status();
  if (array.value()->element_type != element_type) {
    return error(StatusCode::invalid_config, "%s: key '%.*s' is an array of %s, expected an array of %s",
                 file_name.c_str(), static_cast<int>(key.size()), key.data(),
                 gguf_type_name(array.value()->element_type), gguf_type_name(element_type));
  }
  return array;
}

}  // namespace

template <class T>
Result<std::vector<T>> GgufFile::get_numbers(std::string_view key) const {
  auto array = typed_array(*this, file_name_, key, gguf_type_of<T>());
  if (!array.ok()) return array.status();
  const std::span<const uint8_t> raw = array.value()->raw;
  constexpr size_t kSize = sizeof(T);
  std::vector<T> out(raw.size() / kSize);
  for (size_t i = 0; i < out.size(); ++i) {
    uint64_t bits = 0;
    for (size_t b = kSize; b-- > 0;) bits = (bits << 8) | raw[i * kSize + b];
    out[i] = from_bits<T>(bits);
  }
  return out;
}

template Result<std::vector<uint8_t>> GgufFile::get_numbers<uint8_t>(std::string_view) const;
template Result<std::vector<int8_t>> GgufFile::get_numbers<int8_t>(std::string_view) const;
template Result<std::vector<uint16_t>> GgufFile::get_numbers<uint16_t>(std::string_view) const;
template Result<std::vector<int16_t>> GgufFile::get_numbers<int16_t>(std::string_view) const;
template Result<std::vector<uint32_t>> GgufFile::get_numbers<uint32_t>(std::string_view) const;
template Result<std::vector<int32_t>> GgufFile::get_numbers<int32_t>(std::string_view) const;
template Result<std::vector<uint64_t>> GgufFile::get_numbers<uint64_t>(std::string_view) const;
template Result<std::vector<int64_t>> GgufFile::get_numbers<int64_t>(std::string_view) const;
template Result<std::vector<float>> GgufFile::get_numbers<float>(std::string_view) const;
template Result<std::vector<double>> GgufFile::get_numbers<double>(std::string_view) const;
template Result<std::vector<bool>> GgufFile::get_numbers<bool>(std::string_view) const;

Result<std::span<const std::string_view>> GgufFile::get_strings(std::string_view key) const {
  auto array = typed_array(*this, file_name_, key, GgufType::string);
  if (!array.ok()) return array.status();
  return std::span<const std::string_view>(array.value()->strings);
}

Result<std::span<const uint8_t>> GgufFile::tensor_bytes(std::string_view name) const {
  const GgufTensor* tensor = find_tensor(name);
  const auto name_length = static_cast<int>(name.size());
  if (tensor == nullptr) {
    return error(StatusCode::tensor_mismatch, "%s: no tensor '%.*s'", file_name_.c_str(), name_length, name.data());
  }
  if (!tensor->supported) {
    return error(StatusCode::unsupported_dtype,
                 "%s: tensor '%.*s' has ggml type %s (id %u), which ossrt does not support (F32, F16, BF16, Q8_0, "
                 "MXFP4)",
                 file_name_.c_str(), name_length, name.data(), ggml_type_name(tensor->type_id), tensor->type_id);
  }
  return data_.subspan(tensor->offset, tensor->bytes);
}

// parse_gguf without the guard; a friend of GgufFile like parse_gguf.
Result<GgufFile> parse_gguf_unguarded(std::span<const uint8_t> bytes, const std::string& file_name) {
  Cursor in(bytes, file_name);
  const char* file = in.file();
  if (bytes.size() < sizeof(kMagic) || std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    return error(StatusCode::invalid_checkpoint, "%s: no GGUF magic at byte 0: not a GGUF file", file);
  }
  in.take(sizeof(kMagic));
  GgufFile out;
  out.file_name_ = file_name;
  const uint64_t version_at = in.pos();
  if (Status s = in.read(out.version_, "version"); !s) return s;
  if (out.version_ != 2 && out.version_ != 3) {
    // Version 1 had 32-bit counts and lengths; a big-endian file reads as 0x03000000.
    return in.fail(version_at, "version",
                   format("version %u is not supported (2 and 3 are; 1 is obsolete, a huge number means a "
                          "big-endian file)",
                          out.version_)
                       .c_str());
  }
  uint64_t tensor_count = 0, kv_count = 0;
  const uint64_t tensor_count_at = in.pos();
  if (Status s = in.read(tensor_count, "tensor count"); !s) return s;
  const uint64_t kv_count_at = in.pos();
  if (Status s = in.read(kv_count, "key/value count"); !s) return s;
  if (Status s = in.check_count(kv_count, kMinKeyValueBytes, kv_count_at, "key/value count"); !s) return s;

  if (Status s = read_key_values(in, kv_count, out.metadata_, out.key_index_); !s) return s;

  if (const GgufValue* alignment = out.find("general.alignment"); alignment != nullptr) {
    const uint64_t at = out.metadata_[out.key_index_.at("general.alignment")].offset;
    if (alignment->type != GgufType::u32) {
      return in.fail(at, "key 'general.alignment'",
                     format("type is %s, must be u32", gguf_type_name(alignment->type)).c_str());
    }
    if (!std::has_single_bit(alignment->bits)) {
      return in.fail(
          at, "key 'general.alignment'",
          format("alignment %llu is not a power of two", static_cast<unsigned long long>(alignment->bits)).c_str());
    }
    out.alignment_ = static_cast<uint32_t>(alignment->bits);
  } else {
    out.alignment_ = kDefaultAlignment;
  }

  if (Status s = in.check_count(tensor_count, kMinTensorInfoBytes, tensor_count_at, "tensor count"); !s) return s;
  out.tensors_.resize(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensor& tensor = out.tensors_[i];
    if (Status s = read_tensor_info(in, tensor, i); !s) return s;
    if (!out.tensor_index_.emplace(tensor.name, i).second) {
      return in.fail(tensor.info_offset, quoted("tensor", tensor.name), "tensor name appears twice");
    }
  }

  const uint64_t header_end = in.pos();
  const uint64_t data_offset = (header_end + out.alignment_ - 1) / out.alignment_ * out.alignment_;
  if (data_offset > bytes.size()) {
    return error(StatusCode::invalid_checkpoint,
                 "%s: the data section starts at byte %llu (header end %llu aligned to %u), past the end of the "
                 "%zu-byte file: truncated file",
                 file, static_cast<unsigned long long>(data_offset), static_cast<unsigned long long>(header_end),
                 out.alignment_, bytes.size());
  }
  out.data_offset_ = data_offset;
  out.data_ = bytes.subspan(data_offset);
  if (Status s = check_tensor_ranges(out.tensors_, out.data_.size(), out.alignment_, file); !s) return s;
  return out;
}

// Allocation is bounded by the file size, but an allocation failure must
// still come back as a status, never an exception.
Result<GgufFile> parse_gguf(std::span<const uint8_t> bytes, const std::string& file_name) {
  return guard("parse_gguf", [&] { return parse_gguf_unguarded(bytes, file_name); });
}

}  // namespace ossrt
