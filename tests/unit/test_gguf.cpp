// The GGUF container reader: every metadata type and supported tensor type
// read back as written, and every malformed file refused with a message
// naming the key or tensor and the byte offset.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "io/gguf_writer.h"

using namespace ossrt;

namespace {

constexpr uint32_t kQ4K = 12;  // a ggml type id this reader lists but does not hand out

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> out(size);
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(i * 7 + seed);
  return out;
}

GgufTensorSpec tensor(std::string name, GgmlType type, std::vector<uint64_t> dims, size_t bytes, uint8_t seed) {
  return GgufTensorSpec{std::move(name), static_cast<uint32_t>(type), std::move(dims), pattern(bytes, seed), {}};
}

// An array nested `depth` deep, innermost an empty u8 array: the value bytes
// after the key's type.
std::vector<uint8_t> nested_array(int depth) {
  std::vector<uint8_t> out;
  gguf_put_u32(out, static_cast<uint32_t>(depth == 1 ? GgufType::u8 : GgufType::array));
  gguf_put_u64(out, depth == 1 ? 0 : 1);
  if (depth > 1) {
    std::vector<uint8_t> inner = nested_array(depth - 1);
    out.insert(out.end(), inner.begin(), inner.end());
  }
  return out;
}

// Every key/value type, and a tensor of each supported type.
GgufWriter full_writer() {
  GgufWriter w;
  w.add<uint8_t>("v.u8", 200);
  w.add<int8_t>("v.i8", -5);
  w.add<uint16_t>("v.u16", 65000);
  w.add<int16_t>("v.i16", -30000);
  w.add<uint32_t>("v.u32", 4000000000u);
  w.add<int32_t>("v.i32", -2000000000);
  w.add<uint64_t>("v.u64", 18000000000000000000ull);
  w.add<int64_t>("v.i64", -9000000000000000000ll);
  w.add<float>("v.f32", 0.15625f);
  w.add<double>("v.f64", -1.0e300);
  w.add<bool>("v.true", true);
  w.add<bool>("v.false", false);
  w.add_string("general.architecture", "gpt-oss");
  w.add_string("v.utf8", "na\xc3\xafve \xe2\x9c\x93");
  const std::vector<int32_t> ints = {1, -2, 3};
  w.add_array<int32_t>("a.i32", ints);
  const std::vector<float> floats = {0.5f, -2.25f};
  w.add_array<float>("a.f32", floats);
  const std::vector<uint64_t> longs = {1ull << 40};
  w.add_array<uint64_t>("a.u64", longs);
  const std::vector<bool> flags = {true, false, true};
  std::vector<uint8_t> flag_bytes;
  gguf_put_u32(flag_bytes, static_cast<uint32_t>(GgufType::boolean));
  gguf_put_u64(flag_bytes, flags.size());
  for (bool f : flags) flag_bytes.push_back(f ? 1 : 0);
  w.add_encoded("a.bool", GgufType::array, flag_bytes);
  const std::vector<std::string> tokens = {"<|start|>", "", "\xc4\xa0the"};
  w.add_string_array("a.strings", tokens);
  const std::vector<uint8_t> empty;
  w.add_array<uint8_t>("a.empty", empty);
  // [[7, 8], ["x"]]: an array of arrays of different element types.
  std::vector<uint8_t> nested;
  gguf_put_u32(nested, static_cast<uint32_t>(GgufType::array));
  gguf_put_u64(nested, 2);
  gguf_put_u32(nested, static_cast<uint32_t>(GgufType::u32));
  gguf_put_u64(nested, 2);
  gguf_put_u32(nested, 7);
  gguf_put_u32(nested, 8);
  gguf_put_u32(nested, static_cast<uint32_t>(GgufType::string));
  gguf_put_u64(nested, 1);
  gguf_put_string(nested, "x");
  w.add_encoded("a.nested", GgufType::array, nested);

  w.add_tensor(tensor("norm.weight", GgmlType::f32, {4, 2}, 32, 1));
  w.add_tensor(tensor("half", GgmlType::f16, {8}, 16, 2));
  w.add_tensor(tensor("blk.0.attn_q.weight", GgmlType::bf16, {3, 2}, 12, 3));
  w.add_tensor(tensor("token_embd.weight", GgmlType::q8_0, {64, 1}, 2 * 34, 4));
  w.add_tensor(tensor("blk.0.ffn_down_exps.weight", GgmlType::mxfp4, {32, 3, 1, 1}, 3 * 17, 5));
  return w;
}

// A file with one tensor and one key: small enough to truncate byte by byte.
GgufWriter small_writer() {
  GgufWriter w;
  w.add_string("general.architecture", "gpt-oss");
  w.add<uint32_t>("gpt-oss.block_count", 1);
  w.add_tensor(tensor("output_norm.weight", GgmlType::f32, {8}, 32, 9));
  return w;
}

// A file holding one key and nothing else.
template <class T>
std::vector<uint8_t> file_with(std::string_view key, T value) {
  GgufWriter w;
  w.add<T>(key, value);
  return w.encode();
}

Result<GgufFile> parse(const std::vector<uint8_t>& bytes) {
  return parse_gguf(bytes, "t.gguf");
}

void check_fails(const Status& status, StatusCode code, const std::string& fragment) {
  CHECK_MESSAGE(status.code() == code, status.to_string());
  CHECK_MESSAGE(status.message().find(fragment) != std::string::npos, status.to_string());
  CHECK_MESSAGE(status.message().rfind("t.gguf: ", 0) == 0, status.to_string());  // names the file first
}

void check_refused(const std::vector<uint8_t>& bytes, const std::string& fragment) {
  check_fails(parse(bytes).status(), StatusCode::invalid_checkpoint, fragment);
}

void put_u64_at(std::vector<uint8_t>& bytes, size_t at, uint64_t value) {
  for (int i = 0; i < 8; ++i) bytes[at + i] = static_cast<uint8_t>(value >> (8 * i));
}

// The file offset of the first occurrence of `text`.
size_t find_bytes(const std::vector<uint8_t>& bytes, std::string_view text) {
  auto it = std::search(bytes.begin(), bytes.end(), text.begin(), text.end());
  REQUIRE(it != bytes.end());
  return static_cast<size_t>(it - bytes.begin());
}

}  // namespace

TEST_CASE("gguf: every metadata type reads back as written") {
  const std::vector<uint8_t> bytes = full_writer().encode();
  auto file = parse(bytes);
  REQUIRE_MESSAGE(file.ok(), file.status().to_string());
  const GgufFile& f = file.value();
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 32);
  CHECK(f.metadata().size() == 21);
  CHECK(f.metadata()[0].key == "v.u8");
  CHECK(f.metadata()[0].offset == 24);  // right after magic, version and both counts
  CHECK(f.get<uint8_t>("v.u8").value() == 200);
  CHECK(f.get<int8_t>("v.i8").value() == -5);
  CHECK(f.get<uint16_t>("v.u16").value() == 65000);
  CHECK(f.get<int16_t>("v.i16").value() == -30000);
  CHECK(f.get<uint32_t>("v.u32").value() == 4000000000u);
  CHECK(f.get<int32_t>("v.i32").value() == -2000000000);
  CHECK(f.get<uint64_t>("v.u64").value() == 18000000000000000000ull);
  CHECK(f.get<int64_t>("v.i64").value() == -9000000000000000000ll);
  CHECK(f.get<float>("v.f32").value() == 0.15625f);
  CHECK(f.get<double>("v.f64").value() == -1.0e300);
  CHECK(f.get<bool>("v.true").value());
  CHECK_FALSE(f.get<bool>("v.false").value());
  CHECK(f.get<std::string_view>("general.architecture").value() == "gpt-oss");
  CHECK(f.get<std::string_view>("v.utf8").value() == "na\xc3\xafve \xe2\x9c\x93");
  CHECK(f.get_uint("v.u8").value() == 200);
  CHECK(f.get_uint("v.u64").value() == 18000000000000000000ull);

  CHECK(f.get_numbers<int32_t>("a.i32").value() == std::vector<int32_t>{1, -2, 3});
  CHECK(f.get_numbers<float>("a.f32").value() == std::vector<float>{0.5f, -2.25f});
  CHECK(f.get_numbers<uint64_t>("a.u64").value() == std::vector<uint64_t>{1ull << 40});
  CHECK(f.get_numbers<bool>("a.bool").value() == std::vector<bool>{true, false, true});
  CHECK(f.get_numbers<uint8_t>("a.empty").value().empty());
  auto strings = f.get_strings("a.strings");
  REQUIRE(strings.ok());
  REQUIRE(strings.value().size() == 3);
  CHECK(strings.value()[0] == "<|start|>");
  CHECK(strings.value()[1].empty());
  CHECK(strings.value()[2] == "\xc4\xa0the");
  // Strings are views into the file, not copies.
  CHECK(reinterpret_cast<const uint8_t*>(strings.value()[0].data()) >= bytes.data());
  CHECK(reinterpret_cast<const uint8_t*>(strings.value()[0].data()) < bytes.data() + bytes.size());

  auto nested = f.get_array("a.nested");
  REQUIRE(nested.ok());
  const GgufArray& outer = *nested.value();
  CHECK(outer.element_type == GgufType::array);
  REQUIRE(outer.arrays.size() == 2);
  CHECK(outer.arrays[0].element_type == GgufType::u32);
  CHECK(outer.arrays[0].count == 2);
  CHECK(outer.arrays[0].raw.size() == 8);
  CHECK(outer.arrays[0].raw[0] == 7);
  CHECK(outer.arrays[0].raw[4] == 8);
  CHECK(outer.arrays[1].element_type == GgufType::string);
  REQUIRE(outer.arrays[1].strings.size() == 1);
  CHECK(outer.arrays[1].strings[0] == "x");
}

TEST_CASE("gguf: typed accessors name the key and the type found") {
  const std::vector<uint8_t> bytes = full_writer().encode();
  auto file = parse(bytes);
  REQUIRE(file.ok());
  const GgufFile& f = file.value();
  check_fails(f.get<uint32_t>("v.u8").status(), StatusCode::invalid_config, "key 'v.u8' is u8, expected u32");
  check_fails(f.get<std::string_view>("v.f32").status(), StatusCode::invalid_config,
              "key 'v.f32' is f32, expected string");
  check_fails(f.get<uint32_t>("gpt-oss.context_length").status(), StatusCode::not_found,
              "no key 'gpt-oss.context_length'");
  check_fails(f.get_uint("v.i8").status(), StatusCode::invalid_config, "key 'v.i8' is negative");
  check_fails(f.get_uint("v.f64").status(), StatusCode::invalid_config, "key 'v.f64' is f64, expected an integer");
  check_fails(f.get_numbers<uint32_t>("a.i32").status(), StatusCode::invalid_config,
              "key 'a.i32' is an array of i32, expected an array of u32");
  check_fails(f.get_strings("a.i32").status(), StatusCode::invalid_config, "expected an array of string");
  check_fails(f.get_array("v.u8").status(), StatusCode::invalid_config, "key 'v.u8' is u8, expected array");
  CHECK(f.find("v.u16") != nullptr);
  CHECK(f.find("absent") == nullptr);
}

TEST_CASE("gguf: tensors of every supported type are views into the data section") {
  const std::vector<uint8_t> bytes = full_writer().encode();
  auto file = parse(bytes);
  REQUIRE_MESSAGE(file.ok(), file.status().to_string());
  const GgufFile& f = file.value();
  CHECK(f.data_offset() % 32 == 0);
  REQUIRE(f.tensors().size() == 5);
  struct Expected {
    const char* name;
    GgmlType type;
    std::vector<int64_t> dims;
    uint64_t bytes;
    uint8_t seed;
  };
  const Expected expected[] = {{"norm.weight", GgmlType::f32, {4, 2}, 32, 1},
                               {"half", GgmlType::f16, {8}, 16, 2},
                               {"blk.0.attn_q.weight", GgmlType::bf16, {3, 2}, 12, 3},
                               {"token_embd.weight", GgmlType::q8_0, {64, 1}, 68, 4},
                               {"blk.0.ffn_down_exps.weight", GgmlType::mxfp4, {32, 3, 1, 1}, 51, 5}};
  for (size_t i = 0; i < std::size(expected); ++i) {
    const Expected& e = expected[i];
    CAPTURE(e.name);
    const GgufTensor& t = f.tensors()[i];
    CHECK(t.name == e.name);
    CHECK(t.type_id == static_cast<uint32_t>(e.type));
    CHECK(t.dims == e.dims);
    CHECK(t.bytes == e.bytes);
    CHECK(t.supported);
    CHECK(t.offset % 32 == 0);
    CHECK(f.find_tensor(e.name) == &t);
    auto data = f.tensor_bytes(e.name);
    REQUIRE(data.ok());
    CHECK(data.value().data() == bytes.data() + f.data_offset() + t.offset);  // zero-copy
    CHECK(std::vector<uint8_t>(data.value().begin(), data.value().end()) == pattern(e.bytes, e.seed));
  }
  CHECK(std::string(ggml_type_name(static_cast<uint32_t>(GgmlType::mxfp4))) == "MXFP4");
  CHECK(std::string(ggml_type_name(static_cast<uint32_t>(GgmlType::q8_0))) == "Q8_0");
  CHECK(std::string(ggml_type_name(4)) == "unknown");  // an id ggml retired
  check_fails(f.tensor_bytes("output.weight").status(), StatusCode::tensor_mismatch, "no tensor 'output.weight'");
}

TEST_CASE("gguf: general.alignment sets the data alignment; version 2 reads like 3") {
  GgufWriter w(64);
  w.add<uint32_t>("general.alignment", 64);
  w.add_tensor(tensor("a", GgmlType::f32, {3}, 12, 1));
  w.add_tensor(tensor("b", GgmlType::f32, {3}, 12, 2));
  w.version = 2;
  const std::vector<uint8_t> bytes = w.encode();
  auto file = parse(bytes);
  REQUIRE_MESSAGE(file.ok(), file.status().to_string());
  CHECK(file.value().version() == 2);
  CHECK(file.value().alignment() == 64);
  CHECK(file.value().data_offset() % 64 == 0);
  CHECK(file.value().tensors()[1].offset == 64);
  CHECK(file.value().tensor_bytes("b").value()[0] == 2);
}

TEST_CASE("gguf: a tensor of an unsupported type is listed, its bytes refused by type name") {
  GgufWriter w;
  w.add_tensor(tensor("f", GgmlType::f32, {8}, 32, 1));
  w.add_tensor(GgufTensorSpec{"blk.0.ffn_up.weight", kQ4K, {256, 2}, pattern(2 * 144, 3), {}});
  w.add_tensor(GgufTensorSpec{"future", 200, {16}, pattern(16, 4), {}});
  const std::vector<uint8_t> bytes = w.encode();
  auto file = parse(bytes);
  REQUIRE_MESSAGE(file.ok(), file.status().to_string());
  const GgufTensor* q4 = file.value().find_tensor("blk.0.ffn_up.weight");
  REQUIRE(q4 != nullptr);
  CHECK_FALSE(q4->supported);
  CHECK(q4->type_id == kQ4K);
  CHECK(q4->dims == std::vector<int64_t>{256, 2});
  check_fails(file.value().tensor_bytes("blk.0.ffn_up.weight").status(), StatusCode::unsupported_dtype,
              "tensor 'blk.0.ffn_up.weight' has ggml type Q4_K (id 12)");
  check_fails(file.value().tensor_bytes("future").status(), StatusCode::unsupported_dtype,
              "ggml type unknown (id 200)");
  CHECK(file.value().tensor_bytes("f").ok());
}

TEST_CASE("gguf: bad magic and versions are refused") {
  std::vector<uint8_t> bytes = small_writer().encode();
  std::vector<uint8_t> bad = bytes;
  bad[0] = 'g';
  check_refused(bad, "no GGUF magic at byte 0");
  check_refused({}, "no GGUF magic at byte 0");
  for (uint32_t version : {0u, 1u, 4u, 0x03000000u}) {
    CAPTURE(version);
    GgufWriter w = small_writer();
    w.version = version;
    check_refused(w.encode(), "version at byte 4: version " + std::to_string(version) + " is not supported");
  }
}

TEST_CASE("gguf: a file truncated anywhere is refused") {
  const std::vector<uint8_t> bytes = small_writer().encode();
  REQUIRE(parse(bytes).ok());
  for (size_t size = 0; size < bytes.size(); ++size) {
    CAPTURE(size);
    const std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(size));
    auto file = parse(cut);
    CHECK_FALSE(file.ok());
    CHECK(file.status().code() == StatusCode::invalid_checkpoint);
  }
  // Messages say what was being read, and where.
  check_refused(std::vector<uint8_t>(bytes.begin(), bytes.begin() + 10),
                "tensor count at byte 8 needs 8 bytes, the file has 2 left (10 in all): truncated file");
  const size_t last_key = find_bytes(bytes, "gpt-oss.block_count") - 8;
  check_refused(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(last_key + 30)),
                "key 'gpt-oss.block_count' type at byte " + std::to_string(last_key + 27) +
                    " needs 4 bytes, the file has 3 left (101 in all)");
  check_refused(std::vector<uint8_t>(bytes.begin(), bytes.end() - 1),
                "tensor 'output_norm.weight' (info at byte 106): data [0, +32) extends past the 31-byte data section");
}

TEST_CASE("gguf: lengths and counts the file cannot hold are refused before allocating") {
  const std::vector<uint8_t> good = small_writer().encode();
  std::vector<uint8_t> bytes = good;
  put_u64_at(bytes, 8, uint64_t{1} << 40);  // tensor count
  check_refused(bytes, "tensor count at byte 8: count 1099511627776 needs at least 32 bytes each");
  bytes = good;
  put_u64_at(bytes, 16, std::numeric_limits<uint64_t>::max());  // key/value count
  check_refused(bytes, "key/value count at byte 16: count 18446744073709551615 needs at least 13 bytes each");

  GgufWriter w;
  std::vector<uint8_t> text;
  gguf_put_u64(text, 1000);
  text.insert(text.end(), {'a', 'b'});
  w.add_encoded("general.name", GgufType::string, text);
  check_refused(w.encode(), "key 'general.name' at byte 48: length 1000 runs past the end of the file");

  std::vector<uint8_t> key_bytes = file_with<uint8_t>("k", 1);
  put_u64_at(key_bytes, 24, uint64_t{1} << 62);
  check_refused(key_bytes, "key/value 0 key at byte 24: length 4611686018427387904 runs past the end");

  // count x element size would overflow 64 bits.
  GgufWriter arrays;
  std::vector<uint8_t> array;
  gguf_put_u32(array, static_cast<uint32_t>(GgufType::u64));
  gguf_put_u64(array, (uint64_t{1} << 61) + 1);
  gguf_put_u64(array, 5);
  arrays.add_encoded("tokenizer.ggml.token_type", GgufType::array, array);
  check_refused(arrays.encode(),
                "key 'tokenizer.ggml.token_type' element count at byte 65: count 2305843009213693953 needs at least 8 "
                "bytes each");
  GgufWriter strings;
  std::vector<uint8_t> string_array;
  gguf_put_u32(string_array, static_cast<uint32_t>(GgufType::string));
  gguf_put_u64(string_array, 2);
  gguf_put_string(string_array, "a");
  gguf_put_u64(string_array, 1000);
  strings.add_encoded("tokenizer.ggml.tokens", GgufType::array, string_array);
  check_refused(strings.encode(), "key 'tokenizer.ggml.tokens' element at byte 78: length 1000 runs past the end");
}

TEST_CASE("gguf: malformed values are refused with the key and byte") {
  GgufWriter unknown;
  std::vector<uint8_t> value = {1, 2, 3, 4};
  unknown.add_encoded("x", static_cast<GgufType>(13), value);
  check_refused(unknown.encode(), "key 'x' type at byte 33: unknown value type 13");

  GgufWriter boolean;
  const std::vector<uint8_t> two = {2};
  boolean.add_encoded("flag", GgufType::boolean, two);
  check_refused(boolean.encode(), "key 'flag' at byte 40: bool value 2 is neither 0 nor 1");

  GgufWriter deep;
  deep.add_encoded("ok", GgufType::array, nested_array(8));
  REQUIRE(parse(deep.encode()).ok());
  deep.add_encoded("deep", GgufType::array, nested_array(9));
  check_refused(deep.encode(), "key 'deep' element element element element element element element element at byte");
  check_refused(deep.encode(), "arrays nested more than 8 deep");

  GgufWriter twice;
  twice.add<uint32_t>("gpt-oss.block_count", 1);
  twice.add<uint32_t>("gpt-oss.block_count", 2);
  check_refused(twice.encode(), "key 'gpt-oss.block_count' at byte 59: key appears twice");

  check_refused(file_with<uint8_t>("bad\xff", 1), "key/value 0 at byte 24: key is not valid UTF-8");
}

TEST_CASE("gguf: general.alignment must be a u32 power of two") {
  check_refused(file_with<uint32_t>("general.alignment", 24),
                "key 'general.alignment' at byte 24: alignment 24 is not a power of two");
  check_refused(file_with<uint32_t>("general.alignment", 0), "alignment 0 is not a power of two");
  check_refused(file_with<uint64_t>("general.alignment", 32),
                "key 'general.alignment' at byte 24: type is u64, must be u32");
}

TEST_CASE("gguf: malformed tensor infos are refused with the tensor and byte") {
  GgufWriter dims;
  dims.add_tensor(tensor("t", GgmlType::f32, {1, 1, 1, 1, 1}, 4, 1));
  check_refused(dims.encode(), "tensor 't' at byte 33: n_dims 5 is outside 1..4");
  GgufWriter no_dims;
  no_dims.add_tensor(tensor("t", GgmlType::f32, {}, 4, 1));
  check_refused(no_dims.encode(), "n_dims 0 is outside 1..4");

  GgufWriter overflow;
  overflow.add_tensor(tensor("big", GgmlType::f32, {uint64_t{1} << 32, uint64_t{1} << 32}, 0, 1));
  check_refused(overflow.encode(), "tensor 'big' at byte 47: element count overflows int64 (dims product)");
  GgufWriter negative;
  negative.add_tensor(tensor("neg", GgmlType::f32, {~uint64_t{0}}, 0, 1));
  check_refused(negative.encode(), "tensor 'neg' at byte 39: element count overflows int64");

  GgufWriter blocks;
  blocks.add_tensor(tensor("q", GgmlType::q8_0, {48}, 68, 1));
  check_refused(blocks.encode(),
                "tensor 'q' at byte 24: first dim 48 is not a multiple of the Q8_0 block (32 elements)");

  GgufWriter twice;
  twice.add_tensor(tensor("same", GgmlType::f32, {1}, 4, 1));
  twice.add_tensor(tensor("same", GgmlType::f32, {1}, 4, 2));
  check_refused(twice.encode(), "tensor 'same' at byte 60: tensor name appears twice");
}

TEST_CASE("gguf: tensor data misaligned, past the end or overlapping is refused") {
  GgufWriter misaligned;
  auto t = tensor("m", GgmlType::f32, {4}, 16, 1);
  t.offset = 16;
  misaligned.add_tensor(t);
  check_refused(misaligned.encode(),
                "tensor 'm' (info at byte 24): data offset 16 is not a multiple of the alignment 32");

  GgufWriter past_end;
  past_end.add_tensor(tensor("a", GgmlType::f32, {8}, 32, 1));
  std::vector<uint8_t> bytes = past_end.encode();
  bytes.erase(bytes.end() - 4, bytes.end());  // (resize: a false stringop-overflow at -O1)
  check_refused(bytes, "tensor 'a' (info at byte 24): data [0, +32) extends past the 28-byte data section");
  put_u64_at(bytes, find_bytes(bytes, "a") + 1 + 4 + 8 + 4, 1024);  // the offset field
  check_refused(bytes, "data [1024, +32) extends past");

  GgufWriter overlap;
  overlap.add_tensor(tensor("first", GgmlType::f32, {16}, 64, 1));
  auto second = tensor("second", GgmlType::f32, {8}, 32, 2);
  second.offset = 32;
  overlap.add_tensor(second);
  check_refused(overlap.encode(), "tensors 'first' [0, 64) and 'second' [32, 64) overlap");

  // An unsupported tensor's size is unknown, but it cannot start inside another.
  GgufWriter inside;
  inside.add_tensor(tensor("first", GgmlType::f32, {16}, 64, 1));
  inside.add_tensor(GgufTensorSpec{"k", kQ4K, {256}, {}, 32});
  check_refused(inside.encode(), "tensors 'first' [0, 64) and 'k' [32, 33) overlap");
  GgufWriter beyond;
  beyond.add_tensor(GgufTensorSpec{"k", kQ4K, {256}, {}, 0});
  check_refused(beyond.encode(), "tensor 'k' (info at byte 24): data [0, +1) extends past the 0-byte data section");
}

TEST_CASE("gguf: the fuzz seed corpus is the writer's output and parses") {
  const std::filesystem::path dir = std::filesystem::path(OSSRT_TEST_DATA_DIR) / "../fuzz/corpus/gguf";
  const std::pair<const char*, std::vector<uint8_t>> seeds[] = {{"full.gguf", full_writer().encode()},
                                                                {"small.gguf", small_writer().encode()}};
  for (const auto& seed : seeds) {
    const char* name = seed.first;  // not a binding: CAPTURE's lambda captures it
    const std::vector<uint8_t>& expected = seed.second;
    CAPTURE(name);
    std::ifstream in(dir / name, std::ios::binary);
    REQUIRE(in.good());
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    CHECK(bytes == expected);
    CHECK(parse(bytes).ok());
  }
}
