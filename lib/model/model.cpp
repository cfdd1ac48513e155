// Model::load: checkpoint -> validated weights -> backend.
#include <algorithm>
#include <cstring>

#include "io/model_config.h"
#include "io/tensor_validation.h"
#include "model/model_impl.h"
#include "util/errors.h"
#include "util/mapped_file.h"

namespace ossrt {

namespace {

// Reads one byte per page so the kernel maps the whole range now.
void touch_pages(const void* data, size_t bytes) {
  constexpr size_t kPage = 4096;
  const auto* p = static_cast<const volatile uint8_t*>(data);
  uint8_t sink = 0;
  for (size_t i = 0; i < bytes; i += kPage) sink ^= p[i];
  if (bytes > 0) sink ^= p[bytes - 1];
  static_cast<void>(sink);
}

// Walks every weight tensor once: preloads it if asked, lets a device backend
// take its own copy, and reports progress.
class Placement {
 public:
  Placement(const Backend& backend, const ModelOptions& options, uint64_t total_bytes)
      : be_(backend), options_(options), total_(total_bytes) {}

  // `gathered`: a table read by row (the embedding), which preloading leaves
  // to demand paging, on small pages: a conversation touches a few thousand of
  // its rows, and the rest of its 1.2 GB (gpt-oss) would only add to resident
  // memory (with 2 MiB pages a 512-token prompt mapped 0.3-0.4 GB of it on
  // the EPYC VM).
  template <class T>
  void step(const T*& pointer, size_t elements, const char* what, bool gathered = false) {
    if (!status_.ok() || pointer == nullptr) return;
    const size_t bytes = elements * sizeof(T);
    if (gathered) advise_sparse_reads(pointer, bytes);
    if (options_.preload && !gathered) touch_pages(pointer, bytes);
    if (be_.prepare_weights != nullptr) {
      const void* prepared = be_.prepare_weights(be_.self, pointer, bytes);
      if (prepared != nullptr) {
        pointer = static_cast<const T*>(prepared);
      } else if (!be_.host_memory) {
        status_ = error(StatusCode::out_of_memory, "backend %s: cannot place weights %s", be_.name, what);
        return;
      }
    }
    done_ += bytes;
    if (options_.progress && !options_.progress(done_, total_)) {
      status_ = error(StatusCode::cancelled, "Model::load: cancelled by the progress callback at %s", what);
    }
  }
  const Status& status() const { return status_; }

 private:
  const Backend& be_;
  const ModelOptions& options_;
  uint64_t total_ = 0, done_ = 0;
  Status status_;
};

Status place_all(Placement& place, const ModelConfig& c, ModelWeights& w) {
  const size_t H = static_cast<size_t>(c.hidden_size), V = static_cast<size_t>(c.vocab_size),
               E = static_cast<size_t>(c.num_experts), I = static_cast<size_t>(c.intermediate_size),
               NQ = static_cast<size_t>(c.num_attention_heads), D = static_cast<size_t>(c.head_dim),
               QKV = D * (NQ + 2 * static_cast<size_t>(c.num_key_value_heads));
  place.step(w.embedding, V * H, "embedding", /*gathered=*/true);
  for (LayerWeights& l : w.layers) {
    place.step(l.attn_norm, H, "attn.norm");
    place.step(l.qkv_weight, QKV * H, "attn.qkv.weight");
    place.step(l.qkv_bias, QKV, "attn.qkv.bias");
    place.step(l.sinks, NQ, "attn.sinks");
    place.step(l.out_weight, H * NQ * D, "attn.out.weight");
    place.step(l.out_bias, H, "attn.out.bias");
    place.step(l.mlp_norm, H, "mlp.norm");
    place.step(l.gate_weight, E * H, "mlp.gate.weight");
    place.step(l.gate_bias, E, "mlp.gate.bias");
    place.step(l.mlp1.blocks, E * 2 * I * H / 2, "mlp1 blocks");
    place.step(l.mlp1.scales, E * 2 * I * H / 32, "mlp1 scales");
    place.step(l.mlp1_bias, E * 2 * I, "mlp1 bias");
    place.step(l.mlp2.blocks, E * H * I / 2, "mlp2 blocks");
    place.step(l.mlp2.scales, E * H * I / 32, "mlp2 scales");
    place.step(l.mlp2_bias, E * H, "mlp2 bias");
  }
  place.step(w.final_norm, H, "norm");
  place.step(w.unembedding, V * H, "unembedding");
  return place.status();
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

Status Model::Impl::check_files_unchanged() const {
  for (const auto& file : checkpoint->files) {
    if (file->changed()) {
      return error(StatusCode::invalid_state,
                   "%s was truncated or written since the model was loaded: its weights can no longer be trusted; "
                   "load the model again (or load with weights_in_memory to be immune to file changes)",
                   file->path().c_str());
    }
  }
  return Status::success();
}

const ModelInfo& Model::info() const noexcept {
  return impl_->info;
}

Result<std::shared_ptr<const Tokenizer>> Model::tokenizer() const noexcept {
  return Tokenizer::o200k_harmony();
}

Result<std::vector<KernelTiming>> Model::kernel_profile() const noexcept {
  return guard("Model::kernel_profile", [&]() -> Result<std::vector<KernelTiming>> {
    if (impl_->profiler == nullptr) return std::vector<KernelTiming>{};
    return impl_->profiler->totals();
  });
}

void Model::reset_kernel_profile() const noexcept {
  if (impl_->profiler != nullptr) impl_->profiler->reset();
}

Result<std::shared_ptr<const Model>> Model::load(const std::filesystem::path& directory,
                                                 const ModelOptions& options) noexcept {
  return guard("Model::load", [&]() -> Result<std::shared_ptr<const Model>> {
    auto impl = std::make_unique<Impl>();
    const char* backend_error = "";
    if (!resolve_backend(options.backend.c_str(), impl->backend, &backend_error)) {
      return error(StatusCode::invalid_argument, "backend '%s': %s", options.backend.c_str(), backend_error);
    }
    if (options.profile_kernels) {
      impl->profiler = std::make_unique<KernelProfiler>(impl->backend);
      impl->backend = impl->profiler->table();
    }
    Result<std::unique_ptr<Checkpoint>> checkpoint = open_checkpoint(directory, options.weights_in_memory);
    if (!checkpoint.ok()) return checkpoint.status();
    impl->checkpoint = std::move(checkpoint.value());
    Result<ModelWeights> weights = bind_weights(*impl->checkpoint);
    if (!weights.ok()) return weights.status();
    impl->weights = std::move(weights.value());
    if (options.validate_weights) {
      if (Status s = validate_tensors(*impl->checkpoint); !s.ok()) return s;
    }
    Placement placement(impl->backend, options, impl->weights.bytes);
    if (Status s = place_all(placement, impl->checkpoint->config, impl->weights); !s.ok()) return s;

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
    impl->runtime = options.runtime;
    impl->log(LogLevel::info, "loaded %s: %lld layers, %llu parameters, %llu weight bytes in %zu file(s), backend %s",
              info.directory.c_str(), static_cast<long long>(info.config.num_hidden_layers),
              static_cast<unsigned long long>(info.parameter_count), static_cast<unsigned long long>(info.weight_bytes),
              info.checkpoint_files, info.backend.c_str());
    return std::shared_ptr<const Model>(new Model(std::move(impl)));
  });
}

}  // namespace ossrt
