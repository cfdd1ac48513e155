#include "io/gguf_layout_writer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>

#include "io/gguf_writer.h"
#include "util/errors.h"
#include "util/numeric.h"

namespace ossrt {

namespace fs = std::filesystem;

namespace {

constexpr size_t kQ8Block = kGgmlBlockValues;

// A Q8_0 block's largest magnitude, and the power-of-two scale that holds it
// in 127 codes (snapped blocks: exact in Q8_0 and in bf16).
float block_amax(const float* x) {
  float amax = 0;
  for (size_t j = 0; j < kQ8Block; ++j) amax = std::max(amax, std::fabs(x[j]));
  return amax;
}
float power_of_two_scale(float amax) {
  return std::ldexp(1.0f, static_cast<int>(std::ceil(std::log2(amax / 127.0f))));
}

// Bytes of a tensor of `type` with these dims.
uint64_t tensor_bytes(GgmlType type, const std::vector<uint64_t>& dims) {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return ggml_tensor_bytes(static_cast<uint32_t>(type), n);
}

// Collects the tensors with a producer each; the file is streamed, one
// tensor's bytes in memory at a time.
struct Writer {
  const Checkpoint& source;
  const GgufWriteOptions& options;
  GgufWriter gguf;
  Status status;
  std::vector<std::function<std::vector<uint8_t>()>> producers;

  const TensorEntry* find(const std::string& canonical) {
    auto it = source.tensors.find(canonical);
    if (it == source.tensors.end()) {
      if (status.ok()) status = error(StatusCode::invalid_argument, "source has no tensor '%s'", canonical.c_str());
      return nullptr;
    }
    return &it->second.entry;
  }

  void add(std::string name, GgmlType type, std::vector<uint64_t> dims, std::function<std::vector<uint8_t>()> produce) {
    const uint64_t bytes = tensor_bytes(type, dims);
    gguf.add_tensor(GgufTensorSpec{std::move(name), static_cast<uint32_t>(type), std::move(dims), {}, {}, bytes});
    producers.push_back(std::move(produce));
  }

  // bf16 elements [first, first + count) of a BF16 entry, as fp32.
  static std::vector<float> floats(const TensorEntry& e, size_t first, size_t count) {
    std::vector<float> out(count);
    for (size_t i = 0; i < count; ++i) {
      uint16_t bits;
      std::memcpy(&bits, e.data + (first + i) * 2, 2);
      out[i] = bf16_to_f32(bits);
    }
    return out;
  }

  static std::vector<uint8_t> f32_bytes(const std::vector<float>& values) {
    std::vector<uint8_t> bytes(values.size() * 4);
    std::memcpy(bytes.data(), values.data(), bytes.size());
    return bytes;
  }

  // Rounds a block to a power-of-two scale times int8 codes (exact in bf16).
  static void snap_block(float* x) {
    const float amax = block_amax(x);
    if (amax == 0) return;
    const float d = power_of_two_scale(amax);
    for (size_t j = 0; j < kQ8Block; ++j) x[j] = std::clamp(std::nearbyint(x[j] / d), -127.0f, 127.0f) * d;
  }

  // A dense matrix [rows, cols] from rows [first_row, first_row + rows) of a BF16 entry.
  void dense(const std::string& name, const TensorEntry* e, size_t first_row, size_t rows, size_t cols) {
    if (e == nullptr) return;
    const GgmlType type = options.dense == GgufDenseType::f32    ? GgmlType::f32
                          : options.dense == GgufDenseType::bf16 ? GgmlType::bf16
                                                                 : GgmlType::q8_0;
    add(name, type, {cols, rows}, [this, e, first_row, rows, cols] { return dense_bytes(*e, first_row, rows, cols); });
  }

  std::vector<uint8_t> dense_bytes(const TensorEntry& e, size_t first_row, size_t rows, size_t cols) const {
    std::vector<float> x = floats(e, first_row * cols, rows * cols);
    if (options.snap_dense_to_q8_0) {
      for (size_t b = 0; b < x.size() / kQ8Block; ++b) snap_block(x.data() + b * kQ8Block);
    }
    if (options.dense == GgufDenseType::f32) return f32_bytes(x);
    if (options.dense == GgufDenseType::bf16) {
      std::vector<uint8_t> bytes(x.size() * 2);
      for (size_t i = 0; i < x.size(); ++i) {
        const uint16_t bits = f32_to_bf16(x[i]);
        std::memcpy(bytes.data() + i * 2, &bits, 2);
      }
      return bytes;
    }
    std::vector<uint8_t> bytes(x.size() / kQ8Block * kGgmlQ8_0BlockBytes);
    for (size_t b = 0; b < x.size() / kQ8Block; ++b) {
      const float* block = x.data() + b * kQ8Block;
      const float amax = block_amax(block);
      // Snapped blocks: amax / 127 rounds up to their power of two exactly
      // when amax is 127 codes; take the power itself.
      float d = amax / 127.0f;
      if (options.snap_dense_to_q8_0 && amax > 0) d = power_of_two_scale(amax);
      const float inverse = d != 0 ? 1.0f / d : 0.0f;
      const uint16_t d_bits = f32_to_f16(d);
      uint8_t* out = bytes.data() + b * kGgmlQ8_0BlockBytes;
      std::memcpy(out, &d_bits, 2);
      for (size_t j = 0; j < kQ8Block; ++j) {
        out[2 + j] = static_cast<uint8_t>(static_cast<int8_t>(std::nearbyint(block[j] * inverse)));
      }
    }
    return bytes;
  }

  // A vector (norm, bias, sinks) as F32 with the entry's shape, or rows of it.
  void vector(const std::string& name, const TensorEntry* e, size_t first, size_t count, std::vector<uint64_t> dims) {
    if (e != nullptr)
      add(name, GgmlType::f32, std::move(dims), [e, first, count] { return f32_bytes(floats(*e, first, count)); });
  }
  void vector(const std::string& name, const TensorEntry* e) {
    if (e == nullptr) return;
    size_t count = 1;
    for (int64_t d : e->shape) count *= static_cast<size_t>(d);
    vector(name, e, 0, count, std::vector<uint64_t>(e->shape.rbegin(), e->shape.rend()));
  }

  // Rows of MXFP4 expert weights (original blocks/scales) in ggml's blocks:
  // for each expert, the rows `pick(r)` for r < rows.
  template <class Pick>
  void experts(const std::string& name, const TensorEntry* blocks, const TensorEntry* scales, size_t rows, Pick pick) {
    if (blocks == nullptr || scales == nullptr) return;
    const auto E = static_cast<uint64_t>(blocks->shape[0]), per_row = static_cast<uint64_t>(blocks->shape[2]);
    add(name, GgmlType::mxfp4, {per_row * 32, rows, E},
        [blocks, scales, rows, pick] { return expert_bytes(*blocks, *scales, rows, pick); });
  }

  template <class Pick>
  static std::vector<uint8_t> expert_bytes(const TensorEntry& blocks_entry, const TensorEntry& scales_entry,
                                           size_t rows, Pick pick) {
    const TensorEntry *blocks = &blocks_entry, *scales = &scales_entry;
    const auto E = static_cast<size_t>(blocks->shape[0]), source_rows = static_cast<size_t>(blocks->shape[1]),
               per_row = static_cast<size_t>(blocks->shape[2]);
    std::vector<uint8_t> out(E * rows * per_row * kGgmlMxfp4BlockBytes);
    for (size_t e = 0; e < E; ++e) {
      for (size_t r = 0; r < rows; ++r) {
        const size_t row = e * source_rows + pick(r);
        for (size_t b = 0; b < per_row; ++b) {
          const uint8_t* codes = blocks->data + (row * per_row + b) * 16;
          uint8_t* block = out.data() + ((e * rows + r) * per_row + b) * kGgmlMxfp4BlockBytes;
          block[0] = scales->data[row * per_row + b];
          auto code = [&](size_t k) {
            return static_cast<uint8_t>(k % 2 == 0 ? codes[k / 2] & 0x0f : codes[k / 2] >> 4);
          };
          for (size_t m = 0; m < 16; ++m) block[1 + m] = static_cast<uint8_t>(code(m) | code(m + 16) << 4);
        }
      }
    }
    return out;
  }

  void layer(size_t n) {
    const ModelConfig& c = source.config;
    const std::string p = "block." + std::to_string(n) + ".", g = "blk." + std::to_string(n) + ".";
    const auto H = static_cast<size_t>(c.hidden_size), I = static_cast<size_t>(c.intermediate_size),
               E = static_cast<size_t>(c.num_experts), q_rows = static_cast<size_t>(c.head_dim * c.num_attention_heads),
               kv_rows = static_cast<size_t>(c.head_dim * c.num_key_value_heads);
    vector(g + "attn_norm.weight", find(p + "attn.norm.scale"));
    const struct {
      const char* name;
      size_t first, rows;
    } blocks[] = {{"q", 0, q_rows}, {"k", q_rows, kv_rows}, {"v", q_rows + kv_rows, kv_rows}};
    for (const auto& b : blocks) {
      const std::string gguf_name = g + "attn_" + b.name;
      if (source.fused_qkv) {
        dense(gguf_name + ".weight", find(p + "attn.qkv.weight"), b.first, b.rows, H);
        vector(gguf_name + ".bias", find(p + "attn.qkv.bias"), b.first, b.rows, {b.rows});
      } else {
        dense(gguf_name + ".weight", find(p + "attn." + b.name + ".weight"), 0, b.rows, H);
        vector(gguf_name + ".bias", find(p + "attn." + b.name + ".bias"));
      }
    }
    dense(g + "attn_output.weight", find(p + "attn.out.weight"), 0, H, q_rows);
    vector(g + "attn_output.bias", find(p + "attn.out.bias"));
    vector(g + "attn_sinks.weight", find(p + "attn.sinks"));
    vector(g + "post_attention_norm.weight", find(p + "mlp.norm.scale"));
    dense(g + "ffn_gate_inp.weight", find(p + "mlp.gate.weight"), 0, E, H);
    vector(g + "ffn_gate_inp.bias", find(p + "mlp.gate.bias"));
    const TensorEntry *b1 = find(p + "mlp.mlp1_weight.blocks"), *s1 = find(p + "mlp.mlp1_weight.scales");
    const TensorEntry* bias1 = find(p + "mlp.mlp1_bias");
    // mlp1's rows alternate gate / up; the converter splits them.
    auto gate_row = [](size_t r) { return 2 * r; };
    auto up_row = [](size_t r) { return 2 * r + 1; };
    if (options.fused_gate_up) {
      experts(g + "ffn_gate_up_exps.weight", b1, s1, 2 * I, [I](size_t r) { return r < I ? 2 * r : 2 * (r - I) + 1; });
    } else {
      experts(g + "ffn_gate_exps.weight", b1, s1, I, gate_row);
      experts(g + "ffn_up_exps.weight", b1, s1, I, up_row);
    }
    if (bias1 != nullptr) {
      std::vector<float> all = floats(*bias1, 0, E * 2 * I), gate(E * I), up(E * I);
      for (size_t e = 0; e < E; ++e) {
        for (size_t r = 0; r < I; ++r) {
          gate[e * I + r] = all[e * 2 * I + 2 * r];
          up[e * I + r] = all[e * 2 * I + 2 * r + 1];
        }
      }
      if (options.fused_gate_up) {
        std::vector<float> fused(E * 2 * I);
        for (size_t e = 0; e < E; ++e) {
          std::copy_n(gate.begin() + static_cast<long>(e * I), I, fused.begin() + static_cast<long>(e * 2 * I));
          std::copy_n(up.begin() + static_cast<long>(e * I), I, fused.begin() + static_cast<long>(e * 2 * I + I));
        }
        add(g + "ffn_gate_up_exps.bias", GgmlType::f32, {2 * I, E}, [fused] { return f32_bytes(fused); });
      } else {
        add(g + "ffn_gate_exps.bias", GgmlType::f32, {I, E}, [gate] { return f32_bytes(gate); });
        add(g + "ffn_up_exps.bias", GgmlType::f32, {I, E}, [up] { return f32_bytes(up); });
      }
    }
    experts(g + "ffn_down_exps.weight", find(p + "mlp.mlp2_weight.blocks"), find(p + "mlp.mlp2_weight.scales"), H,
            [](size_t r) { return r; });
    vector(g + "ffn_down_exps.bias", find(p + "mlp.mlp2_bias"));
  }

  void metadata() {
    const ModelConfig& c = source.config;
    auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
    gguf.add_string("general.architecture", "gpt-oss");
    gguf.add<uint32_t>("gpt-oss.block_count", u32(c.num_hidden_layers));
    gguf.add<uint32_t>(
        "gpt-oss.context_length",
        u32(static_cast<int64_t>(static_cast<double>(c.initial_context_length) * c.rope_scaling_factor)));
    gguf.add<uint32_t>("gpt-oss.embedding_length", u32(c.hidden_size));
    gguf.add<uint32_t>("gpt-oss.feed_forward_length", u32(c.intermediate_size));
    gguf.add<uint32_t>("gpt-oss.expert_feed_forward_length", u32(c.intermediate_size));
    gguf.add<uint32_t>("gpt-oss.expert_count", u32(c.num_experts));
    gguf.add<uint32_t>("gpt-oss.expert_used_count", u32(c.experts_per_token));
    gguf.add<uint32_t>("gpt-oss.attention.head_count", u32(c.num_attention_heads));
    gguf.add<uint32_t>("gpt-oss.attention.head_count_kv", u32(c.num_key_value_heads));
    gguf.add<uint32_t>("gpt-oss.attention.key_length", u32(c.head_dim));
    gguf.add<uint32_t>("gpt-oss.attention.value_length", u32(c.head_dim));
    gguf.add<uint32_t>("gpt-oss.attention.sliding_window", u32(c.sliding_window));
    gguf.add<float>("gpt-oss.attention.layer_norm_rms_epsilon", 1e-5f);
    gguf.add<float>("gpt-oss.rope.freq_base", static_cast<float>(c.rope_theta));
    gguf.add_string("gpt-oss.rope.scaling.type", "yarn");
    gguf.add<float>("gpt-oss.rope.scaling.factor", static_cast<float>(c.rope_scaling_factor));
    gguf.add<uint32_t>("gpt-oss.rope.scaling.original_context_length", u32(c.initial_context_length));
    gguf.add<float>("gpt-oss.rope.scaling.yarn_beta_fast", static_cast<float>(c.rope_ntk_beta));
    gguf.add<float>("gpt-oss.rope.scaling.yarn_beta_slow", static_cast<float>(c.rope_ntk_alpha));
    gguf.add_string("tokenizer.ggml.model", "gpt2");
    if (!options.tokens.empty()) gguf.add_string_array("tokenizer.ggml.tokens", options.tokens);
  }
};

}  // namespace

Status write_gguf_layout(const Checkpoint& source, const fs::path& file, const GgufWriteOptions& options) {
  if (source.layout == CheckpointLayout::gguf) {
    return error(StatusCode::invalid_argument, "%s: the source is a GGUF file already", source.directory.c_str());
  }
  for (const auto& [canonical, tensor] : source.tensors) {
    if (tensor.entry.dtype != DType::bf16 && tensor.entry.dtype != DType::u8) {
      return error(StatusCode::invalid_argument, "tensor '%s' is %s: the writer handles BF16 and U8",
                   tensor.entry.name.c_str(), dtype_name(tensor.entry.dtype));
    }
  }
  Writer w{source, options, GgufWriter(), Status(), {}};
  w.metadata();
  w.dense("token_embd.weight", w.find("embedding.weight"), 0, static_cast<size_t>(source.config.vocab_size),
          static_cast<size_t>(source.config.hidden_size));
  for (int64_t n = 0; n < source.config.num_hidden_layers; ++n) w.layer(static_cast<size_t>(n));
  w.vector("output_norm.weight", w.find("norm.scale"));
  w.dense("output.weight", w.find("unembedding.weight"), 0, static_cast<size_t>(source.config.vocab_size),
          static_cast<size_t>(source.config.hidden_size));
  if (!w.status.ok()) return w.status;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  Status status = w.gguf.write(out, [&](size_t index) { return w.producers[index](); });
  out.close();
  if (!status.ok() || !out) return error(StatusCode::io_error, "%s: cannot write", file.c_str());
  return Status::success();
}

}  // namespace ossrt
