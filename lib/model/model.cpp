// Model::load: checkpoint -> validated weights -> backend.
#include <algorithm>
#include <cstring>

#include "io/model_config.h"
#include "model/model_impl.h"
#include "util/errors.h"

namespace ossrt {

namespace {

// Lets a device backend take its own copy of each weight tensor.
template <class T>
Status prepare(const Backend& be, const T*& pointer, size_t elements, const char* what) {
  if (be.prepare_weights == nullptr || pointer == nullptr) return Status::success();
  const void* prepared = be.prepare_weights(be.self, pointer, elements * sizeof(T));
  if (prepared == nullptr) {
    if (be.host_memory) return Status::success();
    return error(StatusCode::out_of_memory, "backend %s: cannot place weights %s", be.name, what);
  }
  pointer = static_cast<const T*>(prepared);
  return Status::success();
}

Status prepare_all(const Backend& be, const ModelConfig& c, ModelWeights& w) {
  const size_t H = static_cast<size_t>(c.hidden_size), V = static_cast<size_t>(c.vocab_size),
               E = static_cast<size_t>(c.num_experts), I = static_cast<size_t>(c.intermediate_size),
               NQ = static_cast<size_t>(c.num_attention_heads), D = static_cast<size_t>(c.head_dim),
               QKV = D * (NQ + 2 * static_cast<size_t>(c.num_key_value_heads));
  Status s;
  auto step = [&](auto& pointer, size_t elements, const char* what) {
    if (s.ok()) s = prepare(be, pointer, elements, what);
  };
  step(w.embedding, V * H, "embedding");
  for (LayerWeights& l : w.layers) {
    step(l.attn_norm, H, "attn.norm");
    step(l.qkv_weight, QKV * H, "attn.qkv.weight");
    step(l.qkv_bias, QKV, "attn.qkv.bias");
    step(l.sinks, NQ, "attn.sinks");
    step(l.out_weight, H * NQ * D, "attn.out.weight");
    step(l.out_bias, H, "attn.out.bias");
    step(l.mlp_norm, H, "mlp.norm");
    step(l.gate_weight, E * H, "mlp.gate.weight");
    step(l.gate_bias, E, "mlp.gate.bias");
    step(l.mlp1.blocks, E * 2 * I * H / 2, "mlp1 blocks");
    step(l.mlp1.scales, E * 2 * I * H / 32, "mlp1 scales");
    step(l.mlp1_bias, E * 2 * I, "mlp1 bias");
    step(l.mlp2.blocks, E * H * I / 2, "mlp2 blocks");
    step(l.mlp2.scales, E * H * I / 32, "mlp2 scales");
    step(l.mlp2_bias, E * H, "mlp2 bias");
  }
  step(w.final_norm, H, "norm");
  step(w.unembedding, V * H, "unembedding");
  return s;
}

}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
namespace {

// FNV-1a over what distinguishes one set of weights from another without
// reading them all: the config and, per tensor, its name, dtype, shape and
// the first and last bytes of its data (one page each).
uint64_t fingerprint(const Checkpoint& checkpoint) {
  uint64_t hash = 1469598103934665603ull;
  auto mix = [&](const void* data, size_t size) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < size; ++i) hash = (hash ^ bytes[i]) * 1099511628211ull;
  };
  const ModelConfig& c = checkpoint.config;
  const int64_t ints[] = {c.num_hidden_layers, c.num_experts,           c.experts_per_token,
                          c.vocab_size,        c.hidden_size,           c.intermediate_size,
                          c.head_dim,          c.num_attention_heads,   c.num_key_value_heads,
                          c.sliding_window,    c.initial_context_length};
  const double reals[] = {c.swiglu_limit, c.rope_theta, c.rope_scaling_factor, c.rope_ntk_alpha, c.rope_ntk_beta};
  mix(ints, sizeof ints);
  mix(reals, sizeof reals);
  for (const auto& [name, tensor] : checkpoint.tensors) {
    const TensorEntry& e = tensor.entry;
    mix(name.data(), name.size());
    mix(&e.dtype, sizeof e.dtype);
    mix(e.shape.data(), e.shape.size() * sizeof(int64_t));
    const size_t edge = std::min<size_t>(e.bytes, 64);
    mix(e.data, edge);
    mix(e.data + e.bytes - edge, edge);
  }
  return hash;
}

}  // namespace

Model::~Model() = default;

const ModelInfo& Model::info() const noexcept {
  return impl_->info;
}

Result<std::shared_ptr<const Tokenizer>> Model::tokenizer() const noexcept {
  return Tokenizer::o200k_harmony();
}

Result<std::shared_ptr<const Model>> Model::load(const std::filesystem::path& directory,
                                                 const ModelOptions& options) noexcept {
  return guard("Model::load", [&]() -> Result<std::shared_ptr<const Model>> {
    auto impl = std::make_unique<Impl>();
    const char* backend_error = "";
    if (!resolve_backend(options.backend.c_str(), impl->backend, &backend_error)) {
      return error(StatusCode::invalid_argument, "backend '%s': %s", options.backend.c_str(), backend_error);
    }
    Result<std::unique_ptr<Checkpoint>> checkpoint = open_checkpoint(directory);
    if (!checkpoint.ok()) return checkpoint.status();
    impl->checkpoint = std::move(checkpoint.value());
    Result<ModelWeights> weights = bind_weights(*impl->checkpoint);
    if (!weights.ok()) return weights.status();
    impl->weights = std::move(weights.value());
    if (Status s = prepare_all(impl->backend, impl->checkpoint->config, impl->weights); !s.ok()) return s;

    ModelInfo& info = impl->info;
    info.config = impl->checkpoint->config;
    info.directory = impl->checkpoint->directory;
    info.max_context_length = max_context_length(info.config);
    info.parameter_count = impl->weights.parameter_count;
    info.weight_bytes = impl->weights.bytes;
    for (const auto& file : impl->checkpoint->files) info.mapped_file_bytes += file->size();
    info.checkpoint_files = impl->checkpoint->files.size();
    info.realigned_bytes = impl->checkpoint->realigned_bytes;
    info.backend = impl->backend.name;
    info.fingerprint = fingerprint(*impl->checkpoint);
    impl->rope = std::make_unique<RopeYarn>(info.config);
    return std::shared_ptr<const Model>(new Model(std::move(impl)));
  });
}

}  // namespace ossrt
