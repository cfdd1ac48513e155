// Checkpoint loading, and every kind of bad input it must refuse with a
// specific status and a message naming the file, tensor or key.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "backend/cpu/cpu_features.h"
#include "checkpoint_writer.hpp"
#include "ossrt/ossrt.hpp"

using namespace ossrt;
using namespace testsupport;
namespace fs = std::filesystem;

namespace {

Status load_status(const fs::path& dir) {
  return Model::load(dir).status();
}

void check_fails(const Status& status, StatusCode code, const std::string& fragment) {
  CHECK_MESSAGE(status.code() == code, status.to_string());
  CHECK_MESSAGE(status.message().find(fragment) != std::string::npos, status.to_string());
}

// A small valid checkpoint whose safetensors image a test may alter.
struct Fixture {
  TempDir dir;
  ModelConfig config = small_config();
  std::vector<TensorSpec> tensors = random_tensors(config, 7);
  fs::path file() const { return dir.path() / "model.safetensors"; }
  void write(const SafetensorsImage& image) {
    write_text(dir.path() / "config.json", config_json(config));
    write_safetensors(file(), image);
  }
  void write() { write(build_safetensors(tensors)); }
  TensorSpec* find(const std::string& name) {
    for (TensorSpec& t : tensors) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }
};

void replace_once(std::string& text, const std::string& from, const std::string& to) {
  const size_t at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  text.replace(at, from.size(), to);
}

}  // namespace

TEST_CASE("a valid checkpoint loads and reports its size") {
  Fixture f;
  f.write();
  auto model = Model::load(f.dir.path());
  REQUIRE_MESSAGE(model.ok(), model.status().to_string());
  const ModelInfo& info = model.value()->info();
  CHECK(info.config.vocab_size == 97);
  CHECK(info.checkpoint_files == 1);
  CHECK(info.max_context_length == 512);
  CHECK(info.backend.rfind("cpu", 0) == 0);  // the best CPU level this machine runs
  CHECK(info.realigned_bytes == 0);
  // Parameters: MXFP4 blocks count two per byte, scales none.
  uint64_t expected = 0;
  for (const TensorSpec& t : f.tensors) {
    if (t.name.ends_with(".scales")) continue;
    expected += t.name.ends_with(".blocks") ? 2 * t.bytes.size() : t.bytes.size() / 2;
  }
  CHECK(info.parameter_count == expected);
}

TEST_CASE("missing directory, config or weights") {
  check_fails(load_status("/nonexistent/ossrt"), StatusCode::not_found, "/nonexistent/ossrt");
  TempDir dir;
  check_fails(load_status(dir.path()), StatusCode::not_found, "config.json");
  write_text(dir.path() / "config.json", config_json(small_config()));
  check_fails(load_status(dir.path()), StatusCode::not_found, "no *.safetensors");
  write_text(dir.path() / "config.json", "{\"num_hidden_layers\": -2}");
  check_fails(load_status(dir.path()), StatusCode::invalid_config, "num_hidden_layers");
}

TEST_CASE("truncated and malformed safetensors files") {
  Fixture f;
  SUBCASE("file cut short") {
    f.write();
    fs::resize_file(f.file(), fs::file_size(f.file()) - 100);
    check_fails(load_status(f.dir.path()), StatusCode::invalid_checkpoint, "truncated");
  }
  SUBCASE("shorter than the length field") {
    f.write();
    fs::resize_file(f.file(), 5);
    check_fails(load_status(f.dir.path()), StatusCode::invalid_checkpoint, "too short");
  }
  SUBCASE("header length beyond the file") {
    f.write();
    std::fstream out(f.file(), std::ios::in | std::ios::out | std::ios::binary);
    const uint8_t huge[8] = {0, 0, 0, 0, 0, 1, 0, 0};
    out.write(reinterpret_cast<const char*>(huge), 8);
    out.close();
    check_fails(load_status(f.dir.path()), StatusCode::invalid_checkpoint, "exceeds the file");
  }
  SUBCASE("header is not JSON") {
    SafetensorsImage image = build_safetensors(f.tensors);
    image.header[image.header.find_last_of('}')] = ' ';  // the object is never closed
    f.write(image);
    check_fails(load_status(f.dir.path()), StatusCode::invalid_checkpoint, "not valid JSON");
  }
  SUBCASE("entry without data_offsets") {
    SafetensorsImage image = build_safetensors(f.tensors);
    replace_once(image.header, "\"data_offsets\"", "\"offsets\"");
    f.write(image);
    check_fails(load_status(f.dir.path()), StatusCode::invalid_checkpoint, "embedding.weight");
  }
  SUBCASE("unknown dtype") {
    SafetensorsImage image = build_safetensors(f.tensors);
    replace_once(image.header, "0.attn.sinks\":{\"dtype\":\"BF16\"", "0.attn.sinks\":{\"dtype\":\"Q4\"");
    f.write(image);
    check_fails(load_status(f.dir.path()), StatusCode::unsupported_dtype, "block.0.attn.sinks' has unknown dtype 'Q4'");
  }
  SUBCASE("offsets that do not match dtype x shape") {
    SafetensorsImage image = build_safetensors(f.tensors);
    const std::string needle = "\"norm.scale\":{\"dtype\":\"BF16\",\"shape\":[64],\"data_offsets\":[";
    size_t at = image.header.rfind(needle);
    REQUIRE(at != std::string::npos);
    size_t comma = image.header.find(',', at + needle.size());
    image.header.insert(comma + 1, "1");  // end offset gains a leading digit
    f.write(image);
    check_fails(load_status(f.dir.path()), StatusCode::invalid_checkpoint, "do not span");
  }
  SUBCASE("offsets beyond the data") {
    SafetensorsImage image = build_safetensors(f.tensors);
    image.payload.resize(image.payload.size() - 2);  // header still claims the last 2 bytes
    f.write(image);
    check_fails(load_status(f.dir.path()), StatusCode::invalid_checkpoint, "unembedding.weight");
  }
  SUBCASE("overlapping tensors") {
    // Two equal-sized bf16 tensors; point the second at the first one's bytes.
    SafetensorsImage image = build_safetensors(f.tensors);
    const std::string a = "\"block.0.attn.norm.scale\":{\"dtype\":\"BF16\",\"shape\":[64],\"data_offsets\":[";
    const std::string b = "\"block.0.mlp.norm.scale\":{\"dtype\":\"BF16\",\"shape\":[64],\"data_offsets\":[";
    const size_t at_a = image.header.find(a) + a.size();
    const std::string offsets_a = image.header.substr(at_a, image.header.find(']', at_a) - at_a);
    const size_t at_b = image.header.find(b) + b.size();
    image.header.replace(at_b, image.header.find(']', at_b) - at_b, offsets_a);
    f.write(image);
    check_fails(load_status(f.dir.path()), StatusCode::invalid_checkpoint, "overlap");
  }
}

TEST_CASE("tensors that do not match the config") {
  Fixture f;
  SUBCASE("missing tensor") {
    std::erase_if(f.tensors, [](const TensorSpec& t) { return t.name == "block.1.attn.sinks"; });
    f.write();
    check_fails(load_status(f.dir.path()), StatusCode::tensor_mismatch, "missing tensor 'block.1.attn.sinks'");
  }
  SUBCASE("wrong shape") {
    f.find("block.0.attn.qkv.weight")->shape = {64, 128};  // same bytes, other shape
    f.write();
    check_fails(load_status(f.dir.path()), StatusCode::tensor_mismatch, "'block.0.attn.qkv.weight' is BF16 [64, 128]");
  }
  SUBCASE("wrong dtype") {
    TensorSpec* sinks = f.find("block.0.attn.sinks");
    sinks->dtype = "F32";
    sinks->shape = {2};
    f.write();
    check_fails(load_status(f.dir.path()), StatusCode::tensor_mismatch, "expected BF16 [4]");
  }
  SUBCASE("tensor of a layer the config does not have") {
    TensorSpec extra = *f.find("block.1.attn.sinks");
    extra.name = "block.2.attn.sinks";
    f.tensors.push_back(extra);
    f.write();
    check_fails(load_status(f.dir.path()), StatusCode::tensor_mismatch, "unexpected tensor 'block.2.attn.sinks'");
  }
  SUBCASE("config with more layers than the file") {
    f.config.num_hidden_layers = 3;
    f.write();
    check_fails(load_status(f.dir.path()), StatusCode::tensor_mismatch, "block.2.attn.norm.scale");
  }
}

TEST_CASE("checkpoints split across files, and duplicates between them") {
  Fixture f;
  write_text(f.dir.path() / "config.json", config_json(f.config));
  const size_t half = f.tensors.size() / 2;
  std::vector<TensorSpec> first(f.tensors.begin(), f.tensors.begin() + static_cast<std::ptrdiff_t>(half));
  std::vector<TensorSpec> second(f.tensors.begin() + static_cast<std::ptrdiff_t>(half), f.tensors.end());
  write_safetensors(f.dir.path() / "model-00001-of-00002.safetensors", build_safetensors(first));
  write_safetensors(f.dir.path() / "model-00002-of-00002.safetensors", build_safetensors(second));
  auto model = Model::load(f.dir.path());
  REQUIRE_MESSAGE(model.ok(), model.status().to_string());
  CHECK(model.value()->info().checkpoint_files == 2);

  second.push_back(first.front());
  write_safetensors(f.dir.path() / "model-00002-of-00002.safetensors", build_safetensors(second));
  check_fails(load_status(f.dir.path()), StatusCode::invalid_checkpoint, "appears in both");
}

TEST_CASE("unaligned tensor data is realigned and computes the same logits") {
  Fixture aligned, unaligned;
  aligned.write();
  // One more byte of header (JSON whitespace): the data section, and so every
  // tensor, starts at an odd address (a gap before the first tensor would be refused).
  SafetensorsImage odd = build_safetensors(unaligned.tensors);
  odd.header += ' ';
  unaligned.write(odd);
  const std::vector<TokenId> prompt = {3, 14, 15, 92, 65};
  std::vector<float> logits[2];
  const fs::path dirs[2] = {aligned.dir.path(), unaligned.dir.path()};
  for (int i = 0; i < 2; ++i) {
    auto model = Model::load(dirs[i]);
    REQUIRE_MESSAGE(model.ok(), model.status().to_string());
    auto session = Session::create(model.value());
    REQUIRE(session.ok());
    REQUIRE(session.value()->append(prompt).ok());
    logits[i].assign(session.value()->logits().begin(), session.value()->logits().end());
    CHECK((model.value()->info().realigned_bytes > 0) == (i == 1));
  }
  CHECK(logits[0] == logits[1]);
}

TEST_CASE("experts are tiled at load only in the model's own memory, only on the backend that reads tiles") {
  Fixture f;
  f.write();
  const std::vector<TokenId> prompt = {3, 14, 15, 92, 65};
  // The AVX-512 level tiles where the CPU has AVX512-VNNI and VBMI.
  const bool tiles = best_cpu_isa() >= CpuIsa::avx512 && cpu_features().avx512_vnni && cpu_features().avx512_vbmi;
  std::vector<float> mapped;
  const struct {
    const char* backend;
    bool in_memory;
    bool tiled;
  } loads[] = {{"cpu", false, false}, {"cpu", true, tiles}, {"cpu-reference", true, false}, {"cpu-avx2", true, false}};
  for (const auto& load : loads) {
    if (std::string(load.backend) == "cpu-avx2" && best_cpu_isa() < CpuIsa::avx2) continue;
    ModelOptions options;
    options.backend = load.backend;
    options.weights_in_memory = load.in_memory;
    auto model = Model::load(f.dir.path(), options);
    REQUIRE_MESSAGE(model.ok(), model.status().to_string());
    const ModelInfo& info = model.value()->info();
    CAPTURE(load.backend);
    CAPTURE(load.in_memory);
    CHECK(info.tiled_expert_matrices == (load.tiled ? 2 * static_cast<size_t>(info.config.num_hidden_layers) : 0));
    auto session = Session::create(model.value());
    REQUIRE(session.ok());
    REQUIRE(session.value()->append(prompt).ok());
    const std::vector<float> logits(session.value()->logits().begin(), session.value()->logits().end());
    if (mapped.empty()) mapped = logits;
    // Tiles add the expert products up in another order; the reference level its own way.
    REQUIRE(logits.size() == mapped.size());
    for (size_t i = 0; i < logits.size(); ++i) CHECK(std::fabs(logits[i] - mapped[i]) < 1e-4f);
  }
}

TEST_CASE("a Hugging Face repository root is followed into original/") {
  Fixture f;
  fs::create_directories(f.dir.path() / "original");
  write_text(f.dir.path() / "original" / "config.json", config_json(f.config));
  write_safetensors(f.dir.path() / "original" / "model.safetensors", build_safetensors(f.tensors));
  write_text(f.dir.path() / "config.json", "{\"model_type\": \"gpt_oss\"}");
  auto model = Model::load(f.dir.path());
  REQUIRE_MESSAGE(model.ok(), model.status().to_string());
  CHECK(model.value()->info().directory == f.dir.path() / "original");
}

TEST_CASE("unknown backend name") {
  Fixture f;
  f.write();
  ModelOptions options;
  options.backend = "tpu";
  check_fails(Model::load(f.dir.path(), options).status(), StatusCode::invalid_argument, "backend 'tpu'");
}
