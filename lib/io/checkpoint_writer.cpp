// Synthetic checkpoints in the original gpt-oss layout.
#include "io/checkpoint_writer.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "ossrt/synthetic.hpp"
#include "util/errors.h"
#include "util/numeric.h"

namespace ossrt {
namespace fs = std::filesystem;

namespace {

size_t element_count(const std::vector<int64_t>& shape) {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

ModelConfig gpt_oss_shape(int64_t layers, int64_t experts) {
  ModelConfig c;
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

ModelConfig small_shape() {
  ModelConfig c;
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

Status check_writable(const ModelConfig& c) {
  const int64_t sizes[] = {c.num_hidden_layers,   c.num_experts,           c.experts_per_token, c.vocab_size,
                           c.hidden_size,         c.intermediate_size,     c.head_dim,          c.num_attention_heads,
                           c.num_key_value_heads, c.initial_context_length};
  for (int64_t size : sizes) {
    if (size <= 0) return Status(StatusCode::invalid_argument, "synthetic checkpoint: every size must be positive");
  }
  if (c.hidden_size % 32 != 0 || c.intermediate_size % 32 != 0) {
    return error(StatusCode::invalid_argument,
                 "synthetic checkpoint: hidden_size (%lld) and intermediate_size (%lld) must be multiples of 32 "
                 "(MXFP4 blocks)",
                 static_cast<long long>(c.hidden_size), static_cast<long long>(c.intermediate_size));
  }
  return Status::success();
}

}  // namespace

size_t tensor_byte_size(const TensorSpec& t) {
  if (!t.bytes.empty()) return t.bytes.size();
  return element_count(t.shape) * (t.dtype == "BF16" ? 2 : 1);
}

std::vector<TensorSpec> tensor_layout(const ModelConfig& c) {
  const int64_t H = c.hidden_size, V = c.vocab_size, E = c.num_experts, I = c.intermediate_size, D = c.head_dim;
  const int64_t NQ = c.num_attention_heads, QKV = D * (NQ + 2 * c.num_key_value_heads);
  // Weight spreads keep activations O(1) through the layers, as trained weights do.
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

void fill_random(TensorSpec& t, std::mt19937_64& rng) {
  const size_t n = element_count(t.shape);
  if (t.dtype == "BF16") {
    t.bytes.resize(2 * n);
    std::uniform_real_distribution<float> dist(t.fill.center - t.fill.spread, t.fill.center + t.fill.spread);
    for (size_t i = 0; i < n; ++i) {
      const uint16_t v = f32_to_bf16(dist(rng));
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
    offset += tensor_byte_size(t);
    header += ",\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) {
      if (i > 0) header += ',';
      header += std::to_string(t.shape[i]);
    }
    header += "],\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(offset) + "]}";
  }
  header += "}";
  header.resize((header.size() + 7) / 8 * 8, ' ');
  return header;
}

std::string safetensors_prefix(const std::string& header) {
  std::string prefix(8, '\0');
  const uint64_t length = header.size();
  for (int i = 0; i < 8; ++i) prefix[static_cast<size_t>(i)] = static_cast<char>((length >> (8 * i)) & 0xff);
  return prefix + header;
}

std::string config_json(const ModelConfig& c) {
  auto i = [](int64_t v) { return std::to_string(v); };
  auto f = [](double v) {
    std::string s = format("%.17g", v);
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

Result<ModelConfig> synthetic_config(std::string_view preset) noexcept {
  if (preset == "gpt-oss-20b") return gpt_oss_shape(24, 32);
  if (preset == "gpt-oss-120b") return gpt_oss_shape(36, 128);
  if (preset == "small") return small_shape();
  if (preset == "tiny-chat") {
    ModelConfig c = small_shape();
    c.vocab_size = 201088;
    c.hidden_size = 32;
    c.initial_context_length = 256;  // x 8 (YaRN): 2,048 positions
    return c;
  }
  return Status(StatusCode::invalid_argument,
                "unknown synthetic preset '" + std::string(preset) + "' (gpt-oss-20b, gpt-oss-120b, tiny-chat, small)");
}

Status write_synthetic_checkpoint(const fs::path& directory, const ModelConfig& config, uint64_t seed,
                                  const std::function<bool(uint64_t, uint64_t)>& progress) noexcept {
  return guard("write_synthetic_checkpoint", [&]() -> Status {
    if (Status s = check_writable(config); !s.ok()) return s;
    std::error_code ec;
    fs::create_directories(directory, ec);
    if (ec) return error(StatusCode::io_error, "%s: %s", directory.c_str(), ec.message().c_str());
    const fs::path config_path = directory / "config.json", weights_path = directory / "model.safetensors";
    {
      std::ofstream out(config_path, std::ios::binary | std::ios::trunc);
      out << config_json(config);
      if (!out) return error(StatusCode::io_error, "%s: cannot write", config_path.c_str());
    }
    std::vector<TensorSpec> tensors = tensor_layout(config);
    uint64_t total = 0, written = 0;
    for (const TensorSpec& t : tensors) total += tensor_byte_size(t);
    std::ofstream out(weights_path, std::ios::binary | std::ios::trunc);
    out << safetensors_prefix(safetensors_header(tensors));
    std::mt19937_64 rng(seed);
    for (TensorSpec& t : tensors) {
      fill_random(t, rng);
      out.write(reinterpret_cast<const char*>(t.bytes.data()), static_cast<std::streamsize>(t.bytes.size()));
      written += t.bytes.size();
      std::vector<uint8_t>().swap(t.bytes);
      if (!out) return error(StatusCode::io_error, "%s: cannot write", weights_path.c_str());
      if (progress && !progress(written, total)) {
        return error(StatusCode::cancelled, "%s: cancelled after %llu of %llu bytes", weights_path.c_str(),
                     static_cast<unsigned long long>(written), static_cast<unsigned long long>(total));
      }
    }
    out.close();
    if (!out) return error(StatusCode::io_error, "%s: cannot write", weights_path.c_str());
    return Status::success();
  });
}

}  // namespace ossrt
