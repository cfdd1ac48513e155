#include "model/weights.h"

#include <algorithm>
#include <set>
#include <string>

#include "util/errors.h"

namespace ossrt {
namespace {

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

class Binder {
 public:
  explicit Binder(const Checkpoint& checkpoint) : checkpoint_(checkpoint) {}

  // Returns the tensor's bytes if it exists with this dtype and shape.
  template <class T>
  const T* bind(const std::string& name, DType dtype, std::vector<int64_t> shape) {
    if (!status_.ok()) return nullptr;
    auto it = checkpoint_.tensors.find(name);
    if (it == checkpoint_.tensors.end()) {
      status_ =
          error(StatusCode::tensor_mismatch, "%s: missing tensor '%s' (expected %s %s)", checkpoint_.directory.c_str(),
                stored_tensor_name(checkpoint_, name).c_str(), dtype_name(dtype), shape_text(shape).c_str());
      return nullptr;
    }
    const TensorEntry& entry = it->second.entry;
    if (entry.dtype != dtype || entry.shape != shape) {
      status_ = error(StatusCode::tensor_mismatch, "%s: tensor '%s' is %s %s, expected %s %s for this config.json",
                      it->second.file->c_str(), entry.name.c_str(), dtype_name(entry.dtype),
                      shape_text(entry.shape).c_str(), dtype_name(dtype), shape_text(shape).c_str());
      return nullptr;
    }
    bound_.insert(name);
    uint64_t elements = 1;
    for (int64_t d : shape) elements *= static_cast<uint64_t>(d);
    // An MXFP4 scale byte carries no parameter of its own; two codes per byte do.
    if (name.ends_with(".blocks")) elements *= 2;
    if (!name.ends_with(".scales")) parameters_ += elements;
    bytes_ += entry.bytes;
    return reinterpret_cast<const T*>(entry.data);
  }

  // A dense matrix [rows, cols] in bf16 or Q8_0 (GGUF files).
  DenseMatrix dense(const std::string& name, int64_t rows, int64_t cols) {
    auto it = checkpoint_.tensors.find(name);
    if (status_.ok() && it != checkpoint_.tensors.end() && it->second.entry.dtype == DType::q8_0) {
      return DenseMatrix{nullptr, bind<uint8_t>(name, DType::q8_0, {rows, cols})};
    }
    return DenseMatrix{bind<bf16_t>(name, DType::bf16, {rows, cols}), nullptr};
  }

  Status finish() {
    if (!status_.ok()) return status_;
    for (const auto& [name, tensor] : checkpoint_.tensors) {
      if (!bound_.count(name)) {
        return error(StatusCode::tensor_mismatch,
                     "%s: unexpected tensor '%s': not part of a gpt-oss checkpoint with this config.json "
                     "(%lld layers)",
                     tensor.file->c_str(), tensor.entry.name.c_str(),
                     static_cast<long long>(checkpoint_.config.num_hidden_layers));
      }
    }
    return Status::success();
  }
  uint64_t parameters() const { return parameters_; }
  uint64_t bytes() const { return bytes_; }

 private:
  const Checkpoint& checkpoint_;
  Status status_;
  std::set<std::string> bound_;
  uint64_t parameters_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace

DenseFormats dense_formats(const ModelWeights& w) noexcept {
  DenseFormats formats;
  auto count = [&](const DenseMatrix& m) { ++(m.q8_0 != nullptr ? formats.q8_0 : formats.bf16); };
  count(w.embedding);
  count(w.unembedding);
  for (const LayerWeights& l : w.layers) {
    for (const DenseMatrix* m : {&l.q.weight, &l.k.weight, &l.v.weight, &l.out_weight, &l.gate_weight}) count(*m);
  }
  return formats;
}

uint64_t expert_bytes_per_layer(const ModelConfig& c) noexcept {
  const uint64_t E = static_cast<uint64_t>(c.num_experts), H = static_cast<uint64_t>(c.hidden_size),
                 I = static_cast<uint64_t>(c.intermediate_size);
  return E * 3 * H * I / 2 + E * 3 * H * I / 32 + (E * 2 * I + E * H) * sizeof(bf16_t);
}

Result<ModelWeights> bind_weights(const Checkpoint& checkpoint) {
  const ModelConfig& c = checkpoint.config;
  const int64_t H = c.hidden_size, V = c.vocab_size, E = c.num_experts, I = c.intermediate_size;
  const int64_t q_rows = c.head_dim * c.num_attention_heads, kv_rows = c.head_dim * c.num_key_value_heads;
  Binder b(checkpoint);
  ModelWeights w;
  w.embedding = b.dense("embedding.weight", V, H);
  for (int64_t n = 0; n < c.num_hidden_layers; ++n) {
    const std::string p = "block." + std::to_string(n) + ".";
    LayerWeights& l = w.layers.emplace_back();
    l.attn_norm = b.bind<bf16_t>(p + "attn.norm.scale", DType::bf16, {H});
    if (checkpoint.fused_qkv) {
      const bf16_t* weight = b.bind<bf16_t>(p + "attn.qkv.weight", DType::bf16, {q_rows + 2 * kv_rows, H});
      const bf16_t* bias = b.bind<bf16_t>(p + "attn.qkv.bias", DType::bf16, {q_rows + 2 * kv_rows});
      if (weight != nullptr && bias != nullptr) {
        l.q = RowBlock{DenseMatrix{weight}, bias};
        l.k = RowBlock{DenseMatrix{weight + q_rows * H}, bias + q_rows};
        l.v = RowBlock{DenseMatrix{weight + (q_rows + kv_rows) * H}, bias + q_rows + kv_rows};
        l.qkv_fused = true;
      }
    } else {
      l.q = RowBlock{b.dense(p + "attn.q.weight", q_rows, H), b.bind<bf16_t>(p + "attn.q.bias", DType::bf16, {q_rows})};
      l.k =
          RowBlock{b.dense(p + "attn.k.weight", kv_rows, H), b.bind<bf16_t>(p + "attn.k.bias", DType::bf16, {kv_rows})};
      l.v =
          RowBlock{b.dense(p + "attn.v.weight", kv_rows, H), b.bind<bf16_t>(p + "attn.v.bias", DType::bf16, {kv_rows})};
    }
    l.sinks = b.bind<bf16_t>(p + "attn.sinks", DType::bf16, {c.num_attention_heads});
    l.out_weight = b.dense(p + "attn.out.weight", H, c.head_dim * c.num_attention_heads);
    l.out_bias = b.bind<bf16_t>(p + "attn.out.bias", DType::bf16, {H});
    l.mlp_norm = b.bind<bf16_t>(p + "mlp.norm.scale", DType::bf16, {H});
    l.gate_weight = b.dense(p + "mlp.gate.weight", E, H);
    l.gate_bias = b.bind<bf16_t>(p + "mlp.gate.bias", DType::bf16, {E});
    l.mlp1.blocks = b.bind<uint8_t>(p + "mlp.mlp1_weight.blocks", DType::u8, {E, 2 * I, H / 32, 16});
    l.mlp1.scales = b.bind<uint8_t>(p + "mlp.mlp1_weight.scales", DType::u8, {E, 2 * I, H / 32});
    l.mlp1_bias = b.bind<bf16_t>(p + "mlp.mlp1_bias", DType::bf16, {E, 2 * I});
    l.mlp2.blocks = b.bind<uint8_t>(p + "mlp.mlp2_weight.blocks", DType::u8, {E, H, I / 32, 16});
    l.mlp2.scales = b.bind<uint8_t>(p + "mlp.mlp2_weight.scales", DType::u8, {E, H, I / 32});
    l.mlp2_bias = b.bind<bf16_t>(p + "mlp.mlp2_bias", DType::bf16, {E, H});
  }
  w.final_norm = b.bind<bf16_t>("norm.scale", DType::bf16, {H});
  w.unembedding = b.dense("unembedding.weight", V, H);
  if (Status status = b.finish(); !status.ok()) return status;
  w.parameter_count = b.parameters();
  w.bytes = b.bytes();
  return w;
}

uint64_t weights_fingerprint(const ModelConfig& c, const ModelWeights& weights) {
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&](const void* data, size_t size) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  };
  const int64_t ints[] = {c.num_hidden_layers, c.num_experts,           c.experts_per_token,
                          c.vocab_size,        c.hidden_size,           c.intermediate_size,
                          c.head_dim,          c.num_attention_heads,   c.num_key_value_heads,
                          c.sliding_window,    c.initial_context_length};
  const double reals[] = {c.swiglu_limit, c.rope_theta, c.rope_scaling_factor, c.rope_ntk_alpha, c.rope_ntk_beta};
  mix(ints, sizeof ints);
  mix(reals, sizeof reals);
  ModelWeights views = weights;  // for_each_weight may rewrite pointers; these stay as they are
  for_each_weight(c, views, /*blocks_apart=*/true, [&](auto*& pointer, size_t elements, const char*, bool) {
    const auto* data = reinterpret_cast<const uint8_t*>(pointer);
    const size_t bytes = elements * sizeof(*pointer), edge = std::min<size_t>(bytes, 64);
    mix(&bytes, sizeof bytes);
    mix(data, edge);
    mix(data + bytes - edge, edge);
  });
  return hash;
}

}  // namespace ossrt
