// Synthetic checkpoints in the original gpt-oss layout.
#include "io/checkpoint_writer.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "io/model_config.h"
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
  // Only what the loader accepts (its bounds, e.g. at most 4,096 layers):
  // checked before the tensor list is built, whose size grows with the layers.
  if (Result<ModelConfig> reread = parse_model_config(config_json(c), "synthetic config.json"); !reread.ok()) {
    return Status(StatusCode::invalid_argument, reread.status().message());
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

namespace {

// splitmix64's output function: a strong 64-bit mix, so counters make good streams.
uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// 64 random bits for word `index` of a stream.
uint64_t random_word(uint64_t stream, size_t index) {
  return mix64(stream + static_cast<uint64_t>(index) * 0xd1342543de82ef95ULL);
}

// Calls put(element, bits) for elements [first, first + count), each given
// `width` bits of its word; words are drawn once and in parallel.
template <class Put>
void for_each_random_element(uint64_t stream, size_t first, size_t count, unsigned width, Put put) {
  if (count == 0) return;
  const size_t per_word = 64 / width, last = first + count;
  const auto first_word = static_cast<long long>(first / per_word),
             end_word = static_cast<long long>((last - 1) / per_word + 1);
#pragma omp parallel for schedule(static) if (count > (1 << 20))
  for (long long w = first_word; w < end_word; ++w) {
    const uint64_t bits = random_word(stream, static_cast<size_t>(w));
    for (size_t k = 0; k < per_word; ++k) {
      const size_t element = static_cast<size_t>(w) * per_word + k;
      if (element >= first && element < last) put(element - first, bits >> (width * k));
    }
  }
}

}  // namespace

uint64_t tensor_stream(uint64_t seed, size_t index) {
  return mix64(seed ^ mix64(static_cast<uint64_t>(index) + 1));
}

void fill_random(const TensorSpec& t, uint64_t stream, size_t first_byte, std::span<uint8_t> out) {
  if (t.dtype == "BF16") {
    // 16-bit uniforms mapped into center +- spread.
    const float step = 2.0f * t.fill.spread / 65536.0f, low = t.fill.center - t.fill.spread + 0.5f * step;
    for_each_random_element(stream, first_byte / 2, out.size() / 2, 16, [&](size_t i, uint64_t bits) {
      const uint16_t value = f32_to_bf16(low + step * static_cast<float>(bits & 0xffff));
      std::memcpy(&out[2 * i], &value, 2);
    });
    return;
  }
  const auto range = static_cast<uint32_t>(t.fill.high - t.fill.low + 1);
  for_each_random_element(stream, first_byte, out.size(), 8, [&](size_t i, uint64_t bits) {
    out[i] = static_cast<uint8_t>(t.fill.low + static_cast<int>(((bits & 0xff) * range) >> 8));
  });
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

Status write_text_file(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) return error(StatusCode::io_error, "%s: cannot write", path.c_str());
  return Status::success();
}

std::string json_number(double value) {
  std::string text = format("%.17g", value);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string config_json(const ModelConfig& c) {
  auto i = [](int64_t v) { return std::to_string(v); };
  auto f = json_number;
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
    if (Status s = write_text_file(config_path, config_json(config)); !s.ok()) return s;
    std::vector<TensorSpec> tensors = tensor_layout(config);
    uint64_t total = 0, written = 0;
    for (const TensorSpec& t : tensors) total += tensor_byte_size(t);
    std::ofstream out(weights_path, std::ios::binary | std::ios::trunc);
    out << safetensors_prefix(safetensors_header(tensors));
    // Written in pieces, so the widest tensor needs no more memory than one piece.
    constexpr size_t kPiece = size_t{64} << 20;
    std::vector<uint8_t> piece;
    for (size_t index = 0; index < tensors.size(); ++index) {
      const TensorSpec& t = tensors[index];
      const uint64_t stream = tensor_stream(seed, index);
      const size_t bytes = tensor_byte_size(t);
      for (size_t at = 0; at < bytes; at += kPiece) {
        piece.resize(std::min(kPiece, bytes - at));
        fill_random(t, stream, at, piece);
        out.write(reinterpret_cast<const char*>(piece.data()), static_cast<std::streamsize>(piece.size()));
      }
      written += bytes;
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
