#include "checkpoint_writer.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

namespace testsupport {
namespace fs = std::filesystem;

namespace {

uint16_t to_bf16(float value) {
  uint32_t u;
  std::memcpy(&u, &value, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  return static_cast<uint16_t>(u >> 16);
}

size_t element_count(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

size_t byte_size(const TensorSpec& t) {
  if (!t.bytes.empty()) return t.bytes.size();
  return element_count(t.shape) * (t.dtype == "BF16" ? 2 : 1);
}

void fill_random(TensorSpec& t, std::mt19937_64& rng) {
  const size_t n = element_count(t.shape);
  if (t.dtype == "BF16") {
    t.bytes.resize(2 * n);
    std::uniform_real_distribution<float> dist(t.fill.center - t.fill.spread, t.fill.center + t.fill.spread);
    for (size_t i = 0; i < n; ++i) {
      const uint16_t v = to_bf16(dist(rng));
      std::memcpy(&t.bytes[2 * i], &v, 2);
    }
  } else {
    t.bytes.resize(n);
    std::uniform_int_distribution<int> dist(t.fill.low, t.fill.high);
    for (uint8_t& b : t.bytes) b = static_cast<uint8_t>(dist(rng));
  }
}

std::string safetensors_header(const std::vector<TensorSpec>& tensors, size_t leading_gap) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  size_t offset = leading_gap;
  for (const TensorSpec& t : tensors) {
    const size_t begin = offset;
    offset += byte_size(t);
    header += ",\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) {
      if (i > 0) header += ',';
      header += std::to_string(t.shape[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(offset) + "]}";
  }
  header += "}";
  // safetensors pads the header with spaces so tensor data starts 8-byte aligned.
  header.resize((header.size() + 7) / 8 * 8, ' ');
  return header;
}

void write_length_and_header(std::ofstream& out, const std::string& header) {
  const uint64_t length = header.size();
  uint8_t le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(length >> (8 * i));
  out.write(reinterpret_cast<const char*>(le), 8);
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
}

}  // namespace

SafetensorsImage build_safetensors(const std::vector<TensorSpec>& tensors, size_t leading_gap) {
  SafetensorsImage image;
  image.header = safetensors_header(tensors, leading_gap);
  image.payload.resize(leading_gap, 0);
  for (const TensorSpec& t : tensors) image.payload.insert(image.payload.end(), t.bytes.begin(), t.bytes.end());
  return image;
}

void write_safetensors(const fs::path& path, const SafetensorsImage& image) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  write_length_and_header(out, image.header);
  out.write(reinterpret_cast<const char*>(image.payload.data()), static_cast<std::streamsize>(image.payload.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::string config_json(const ossrt::ModelConfig& c) {
  auto i = [](int64_t v) { return std::to_string(v); };
  auto f = [](double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    std::string s = buf;
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
  };
  return "{\n  \"num_hidden_layers\": " + i(c.num_hidden_layers) + ",\n  \"num_experts\": " + i(c.num_experts) +
         ",\n  \"experts_per_token\": " + i(c.experts_per_token) + ",\n  \"vocab_size\": " + i(c.vocab_size) +
         ",\n  \"hidden_size\": " + i(c.hidden_size) + ",\n  \"intermediate_size\": " + i(c.intermediate_size) +
         ",\n  \"swiglu_limit\": " + f(c.swiglu_limit) + ",\n  \"head_dim\": " + i(c.head_dim) +
         ",\n  \"num_attention_heads\": " + i(c.num_attention_heads) +
         ",\n  \"num_key_value_heads\": " + i(c.num_key_value_heads) +
         ",\n  \"sliding_window\": " + i(c.sliding_window) +
         ",\n  \"initial_context_length\": " + i(c.initial_context_length) + ",\n  \"rope_theta\": " + f(c.rope_theta) +
         ",\n  \"rope_scaling_factor\": " + f(c.rope_scaling_factor) +
         ",\n  \"rope_ntk_alpha\": " + f(c.rope_ntk_alpha) + ",\n  \"rope_ntk_beta\": " + f(c.rope_ntk_beta) + "\n}\n";
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::vector<TensorSpec> tensor_layout(const ossrt::ModelConfig& c) {
  const int64_t H = c.hidden_size, V = c.vocab_size, E = c.num_experts, I = c.intermediate_size, D = c.head_dim;
  const int64_t NQ = c.num_attention_heads, QKV = D * (NQ + 2 * c.num_key_value_heads);
  const float in_h = 1.7f / std::sqrt(static_cast<float>(H));
  std::vector<TensorSpec> t;
  auto bf16 = [](std::string name, std::vector<int64_t> shape, float center, float spread) {
    return TensorSpec{std::move(name), "BF16", std::move(shape), {}, RandomFill{center, spread, 0, 0}};
  };
  auto bytes = [](std::string name, std::vector<int64_t> shape, int low, int high) {
    return TensorSpec{std::move(name), "U8", std::move(shape), {}, RandomFill{0, 0, low, high}};
  };
  t.push_back(bf16("embedding.weight", {V, H}, 0.0f, 1.0f));
  for (int64_t n = 0; n < c.num_hidden_layers; ++n) {
    const std::string p = "block." + std::to_string(n) + ".";
    t.push_back(bf16(p + "attn.norm.scale", {H}, 1.0f, 0.2f));
    t.push_back(bf16(p + "attn.qkv.weight", {QKV, H}, 0.0f, in_h));
    t.push_back(bf16(p + "attn.qkv.bias", {QKV}, 0.0f, 0.1f));
    t.push_back(bf16(p + "attn.sinks", {NQ}, 0.0f, 1.5f));
    t.push_back(bf16(p + "attn.out.weight", {H, NQ * D}, 0.0f, 1.7f / std::sqrt(static_cast<float>(NQ * D))));
    t.push_back(bf16(p + "attn.out.bias", {H}, 0.0f, 0.1f));
    t.push_back(bf16(p + "mlp.norm.scale", {H}, 1.0f, 0.2f));
    t.push_back(bf16(p + "mlp.gate.weight", {E, H}, 0.0f, in_h));
    t.push_back(bf16(p + "mlp.gate.bias", {E}, 0.0f, 0.1f));
    t.push_back(bytes(p + "mlp.mlp1_weight.blocks", {E, 2 * I, H / 32, 16}, 0, 255));
    t.push_back(bytes(p + "mlp.mlp1_weight.scales", {E, 2 * I, H / 32}, 121, 125));
    t.push_back(bf16(p + "mlp.mlp1_bias", {E, 2 * I}, 0.0f, 0.5f));
    t.push_back(bytes(p + "mlp.mlp2_weight.blocks", {E, H, I / 32, 16}, 0, 255));
    t.push_back(bytes(p + "mlp.mlp2_weight.scales", {E, H, I / 32}, 119, 123));
    t.push_back(bf16(p + "mlp.mlp2_bias", {E, H}, 0.0f, 0.1f));
  }
  t.push_back(bf16("norm.scale", {H}, 1.0f, 0.2f));
  t.push_back(bf16("unembedding.weight", {V, H}, 0.0f, in_h));
  return t;
}

std::vector<TensorSpec> random_tensors(const ossrt::ModelConfig& config, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<TensorSpec> tensors = tensor_layout(config);
  for (TensorSpec& t : tensors) fill_random(t, rng);
  return tensors;
}

void write_random_checkpoint(const fs::path& directory, const ossrt::ModelConfig& config, uint64_t seed) {
  fs::create_directories(directory);
  write_text(directory / "config.json", config_json(config));
  std::vector<TensorSpec> tensors = tensor_layout(config);
  std::ofstream out(directory / "model.safetensors", std::ios::binary | std::ios::trunc);
  write_length_and_header(out, safetensors_header(tensors, 0));
  std::mt19937_64 rng(seed);
  for (TensorSpec& t : tensors) {
    fill_random(t, rng);
    out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
    std::vector<uint8_t>().swap(t.bytes);
  }
  if (!out) throw std::runtime_error("cannot write " + (directory / "model.safetensors").string());
}

void write_checkpoint(const fs::path& directory, const ossrt::ModelConfig& config,
                      const std::vector<TensorSpec>& tensors) {
  fs::create_directories(directory);
  write_text(directory / "config.json", config_json(config));
  write_safetensors(directory / "model.safetensors", build_safetensors(tensors));
}

ossrt::ModelConfig small_config() {
  ossrt::ModelConfig c;
  c.num_hidden_layers = 2;
  c.num_experts = 4;
  c.experts_per_token = 2;
  c.vocab_size = 97;
  c.hidden_size = 64;
  c.intermediate_size = 32;
  c.swiglu_limit = 7.0;
  c.head_dim = 16;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.sliding_window = 4;
  c.initial_context_length = 64;
  c.rope_theta = 10000.0;
  c.rope_scaling_factor = 8.0;
  c.rope_ntk_alpha = 1.0;
  c.rope_ntk_beta = 4.0;
  return c;
}

ossrt::ModelConfig gpt_oss_config(int64_t layers, int64_t experts) {
  ossrt::ModelConfig c;
  c.num_hidden_layers = layers;
  c.num_experts = experts;
  c.experts_per_token = 4;
  c.vocab_size = 201088;
  c.hidden_size = 2880;
  c.intermediate_size = 2880;
  c.swiglu_limit = 7.0;
  c.head_dim = 64;
  c.num_attention_heads = 64;
  c.num_key_value_heads = 8;
  c.sliding_window = 128;
  c.initial_context_length = 4096;
  c.rope_theta = 150000;
  c.rope_scaling_factor = 32;
  c.rope_ntk_alpha = 1;
  c.rope_ntk_beta = 32;
  return c;
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "ossrt-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace testsupport
