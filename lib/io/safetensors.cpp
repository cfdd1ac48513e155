#include "io/safetensors.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "util/errors.h"

namespace ossrt {
namespace {

constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;  // same bound as the safetensors library

struct DTypeInfo {
  DType dtype;
  const char* name;
  size_t size;
};
constexpr DTypeInfo kDTypes[] = {
    {DType::bool_, "BOOL", 1},      {DType::u8, "U8", 1},   {DType::i8, "I8", 1},   {DType::f8_e5m2, "F8_E5M2", 1},
    {DType::f8_e4m3, "F8_E4M3", 1}, {DType::i16, "I16", 2}, {DType::u16, "U16", 2}, {DType::f16, "F16", 2},
    {DType::bf16, "BF16", 2},       {DType::i32, "I32", 4}, {DType::u32, "U32", 4}, {DType::f32, "F32", 4},
    {DType::f64, "F64", 8},         {DType::i64, "I64", 8}, {DType::u64, "U64", 8},
};

const DTypeInfo* find_dtype(std::string_view name) {
  for (const DTypeInfo& info : kDTypes) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

// Reads a JSON array of non-negative integers.
bool read_uint_array(simdjson::dom::element element, std::vector<uint64_t>& out) {
  simdjson::dom::array array;
  if (element.get_array().get(array) != simdjson::SUCCESS) return false;
  for (simdjson::dom::element item : array) {
    uint64_t v = 0;
    if (item.get_uint64().get(v) != simdjson::SUCCESS) return false;
    out.push_back(v);
  }
  return true;
}

struct Range {
  uint64_t begin, end;
  const std::string* name;
};

}  // namespace

const char* dtype_name(DType dtype) noexcept {
  if (dtype == DType::q8_0) return "Q8_0";
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info.name;
  }
  return "?";
}

size_t dtype_size(DType dtype) noexcept {
  if (dtype == DType::q8_0) return 1;  // blocks with a 2-byte scale at any alignment
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info.size;
  }
  return 0;
}

uint64_t safetensors_header_length(const uint8_t* head) noexcept {
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | head[i];
  return length;
}

Result<std::vector<TensorEntry>> parse_safetensors(const uint8_t* data, size_t size, const std::string& source) {
  const char* src = source.c_str();
  if (size < 8) {
    return error(StatusCode::invalid_checkpoint,
                 "%s: file is %zu bytes, too short for the 8-byte header length (truncated?)", src, size);
  }
  const uint64_t header_len = safetensors_header_length(data);
  if (header_len > size - 8) {
    return error(StatusCode::invalid_checkpoint,
                 "%s: header length %llu exceeds the file (%zu bytes): truncated or not a safetensors file", src,
                 static_cast<unsigned long long>(header_len), size);
  }
  if (header_len > kMaxHeaderBytes) {
    return error(StatusCode::invalid_checkpoint, "%s: header length %llu exceeds the 100 MiB limit", src,
                 static_cast<unsigned long long>(header_len));
  }
  const uint8_t* payload = data + 8 + header_len;
  const uint64_t payload_size = size - 8 - header_len;

  simdjson::dom::parser parser;
  simdjson::padded_string header(reinterpret_cast<const char*>(data + 8), static_cast<size_t>(header_len));
  simdjson::dom::element root;
  if (auto err = parser.parse(header).get(root); err != simdjson::SUCCESS) {
    return error(StatusCode::invalid_checkpoint, "%s: header is not valid JSON: %s", src, simdjson::error_message(err));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return error(StatusCode::invalid_checkpoint, "%s: header must be a JSON object", src);
  }

  std::vector<TensorEntry> entries;
  std::vector<Range> ranges;
  std::unordered_set<std::string_view> names;
  for (auto field : object) {
    if (!names.insert(field.key).second) {
      return error(StatusCode::invalid_checkpoint, "%s: tensor '%.*s' is listed twice", src,
                   static_cast<int>(field.key.size()), field.key.data());
    }
    if (field.key == "__metadata__") continue;  // free-form string map
    TensorEntry entry;
    entry.name = std::string(field.key);
    const char* name = entry.name.c_str();
    simdjson::dom::object spec;
    simdjson::dom::element shape_element, offsets_element;
    std::string_view dtype_text;
    std::vector<uint64_t> shape, offsets;
    const bool well_formed = field.value.get_object().get(spec) == simdjson::SUCCESS &&
                             spec["dtype"].get_string().get(dtype_text) == simdjson::SUCCESS &&
                             spec["shape"].get(shape_element) == simdjson::SUCCESS &&
                             read_uint_array(shape_element, shape) &&
                             spec["data_offsets"].get(offsets_element) == simdjson::SUCCESS &&
                             read_uint_array(offsets_element, offsets) && offsets.size() == 2;
    if (!well_formed) {
      return error(StatusCode::invalid_checkpoint,
                   "%s: tensor '%s': entry needs \"dtype\" (string), \"shape\" (array of non-negative integers) and "
                   "\"data_offsets\" ([begin, end])",
                   src, name);
    }
    const DTypeInfo* info = find_dtype(dtype_text);
    if (info == nullptr) {
      return error(StatusCode::unsupported_dtype, "%s: tensor '%s' has unknown dtype '%.*s'", src, name,
                   static_cast<int>(dtype_text.size()), dtype_text.data());
    }
    entry.dtype = info->dtype;
    uint64_t bytes = info->size;
    for (uint64_t dim : shape) {
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ||
          (dim != 0 && bytes > std::numeric_limits<uint64_t>::max() / dim)) {
        return error(StatusCode::invalid_checkpoint, "%s: tensor '%s': shape overflows 64 bits", src, name);
      }
      bytes *= dim;
      entry.shape.push_back(static_cast<int64_t>(dim));
    }
    const uint64_t begin = offsets[0], end = offsets[1];
    if (end < begin || end - begin != bytes) {
      return error(StatusCode::invalid_checkpoint,
                   "%s: tensor '%s': data_offsets [%llu, %llu] do not span the %llu bytes its dtype and shape need",
                   src, name, static_cast<unsigned long long>(begin), static_cast<unsigned long long>(end),
                   static_cast<unsigned long long>(bytes));
    }
    if (end > payload_size) {
      return error(StatusCode::invalid_checkpoint,
                   "%s: tensor '%s': data [%llu, %llu) extends past the end of the file (data section holds %llu "
                   "bytes): truncated file or bad offsets",
                   src, name, static_cast<unsigned long long>(begin), static_cast<unsigned long long>(end),
                   static_cast<unsigned long long>(payload_size));
    }
    entry.data = payload + begin;
    entry.bytes = static_cast<size_t>(bytes);
    entries.push_back(std::move(entry));
  }
  for (const TensorEntry& e : entries) {
    uint64_t begin = static_cast<uint64_t>(e.data - payload);
    ranges.push_back(Range{begin, begin + e.bytes, &e.name});
  }
  std::sort(ranges.begin(), ranges.end(),
            [](const Range& a, const Range& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  for (size_t i = 1; i < ranges.size(); ++i) {
    if (ranges[i].begin > ranges[i - 1].end) {
      return error(StatusCode::invalid_checkpoint,
                   "%s: %llu bytes between tensors '%s' and '%s' belong to no tensor: the header does not describe "
                   "the data (shifted or damaged file)",
                   src, static_cast<unsigned long long>(ranges[i].begin - ranges[i - 1].end),
                   ranges[i - 1].name->c_str(), ranges[i].name->c_str());
    }
    if (ranges[i].begin < ranges[i - 1].end) {
      return error(StatusCode::invalid_checkpoint, "%s: tensors '%s' [%llu, %llu) and '%s' [%llu, %llu) overlap", src,
                   ranges[i - 1].name->c_str(), static_cast<unsigned long long>(ranges[i - 1].begin),
                   static_cast<unsigned long long>(ranges[i - 1].end), ranges[i].name->c_str(),
                   static_cast<unsigned long long>(ranges[i].begin), static_cast<unsigned long long>(ranges[i].end));
    }
  }
  // Like the safetensors library: the tensors cover the data section exactly,
  // so a header one byte off (data shifted) or trailing bytes are caught here.
  const uint64_t covered_from = ranges.empty() ? 0 : ranges.front().begin;
  const uint64_t covered_to = ranges.empty() ? 0 : ranges.back().end;
  if (covered_from != 0 || covered_to != payload_size) {
    return error(StatusCode::invalid_checkpoint,
                 "%s: the tensors cover bytes [%llu, %llu) of the %llu-byte data section: the header does not "
                 "describe the data (truncated, shifted or padded file)",
                 src, static_cast<unsigned long long>(covered_from), static_cast<unsigned long long>(covered_to),
                 static_cast<unsigned long long>(payload_size));
  }
  return entries;
}

}  // namespace ossrt
