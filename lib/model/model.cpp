// Model::load: checkpoint -> validated weights -> backend.
#include <algorithm>
#include <cstring>

#include "io/model_config.h"
#include "io/tensor_validation.h"
#include "model/gguf_vocabulary.h"
#include "model/model_impl.h"
#include "util/errors.h"
#include "util/mapped_file.h"
#include "util/numeric.h"

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
  // `host_resident`: tensors that stay where they are (offloaded experts).
  Placement(const Backend& backend, const ModelOptions& options, uint64_t total_bytes,
            std::vector<const void*> host_resident)
      : be_(backend), options_(options), total_(total_bytes), host_resident_(std::move(host_resident)) {}

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
    const bool stays = std::find(host_resident_.begin(), host_resident_.end(), pointer) != host_resident_.end();
    if (be_.prepare_weights != nullptr && !stays) {
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
  std::vector<const void*> host_resident_;
  Status status_;
};

// The expert tensors of the first `layers` layers, and their bytes.
std::vector<const void*> offloaded_experts(const ModelConfig& c, const ModelWeights& w, size_t layers,
                                           uint64_t& bytes) {
  std::vector<const void*> tensors;
  for (size_t l = 0; l < layers; ++l) {
    const LayerWeights& lw = w.layers[l];
    tensors.insert(tensors.end(),
                   {lw.mlp1.blocks, lw.mlp1.scales, lw.mlp1_bias, lw.mlp2.blocks, lw.mlp2.scales, lw.mlp2_bias});
  }
  bytes = expert_bytes_per_layer(c) * layers;
  return tensors;
}

Status place_all(Placement& place, const ModelConfig& config, ModelWeights& weights) {
  for_each_weight(config, weights, /*blocks_apart=*/false,
                  [&](auto*& pointer, size_t elements, const char* what, bool gathered) {
                    place.step(pointer, elements, what, gathered);
                  });
  return place.status();
}

// Whether [data, data + bytes) lies in memory the checkpoint owns: pages it
// converted at load (writable), or a file it read into memory (*file set:
// read-only until made writable).
bool owned_bytes(const Checkpoint& checkpoint, const void* data, size_t bytes, MappedFile** file) {
  const auto inside = [&](const void* base, size_t size) {
    const auto* p = static_cast<const uint8_t*>(data);
    const auto* b = static_cast<const uint8_t*>(base);
    return p >= b && bytes <= size && p - b <= static_cast<std::ptrdiff_t>(size - bytes);
  };
  *file = nullptr;
  for (const OwnedPages& pages : checkpoint.converted) {
    if (inside(pages.data(), pages.size())) return true;
  }
  for (const auto& mapped : checkpoint.files) {
    if (mapped->in_memory() && inside(mapped->data(), mapped->size())) {
      *file = mapped.get();
      return true;
    }
  }
  return false;
}

// Reorders each layer's experts into the backend's own layout where it has
// one (Backend::tile_experts: the AVX-512 level's 16-row tiles, mxfp4_tiles.h)
// and the checkpoint owns their bytes (weights_in_memory, or converted at
// load); experts in a mapped file stay as they are, and so do experts on the
// host beside a device (cpu_expert_layers). No memory is added. Returns the
// matrices reordered.
size_t tile_experts(Model::Impl& impl) {
  const Backend& be = impl.backend;
  if (be.tile_experts == nullptr || !be.host_memory || impl.cpu_expert_layers > 0) return 0;
  const ModelConfig& c = impl.checkpoint->config;
  const auto H = static_cast<size_t>(c.hidden_size), I = static_cast<size_t>(c.intermediate_size);
  const auto E = static_cast<size_t>(c.num_experts);
  std::vector<MappedFile*> opened;  // in-memory files made writable
  // Makes [data, data + bytes) writable if the checkpoint owns it.
  const auto writable = [&](const void* data, size_t bytes) {
    MappedFile* file = nullptr;
    if (data == nullptr || !owned_bytes(*impl.checkpoint, data, bytes, &file)) return false;
    if (file == nullptr || std::find(opened.begin(), opened.end(), file) != opened.end()) return true;
    if (!file->set_writable(true)) return false;
    opened.push_back(file);
    return true;
  };
  size_t tiled = 0;
  for (LayerWeights& layer : impl.weights.layers) {
    const struct {
      const Mxfp4Tensor& tensor;
      size_t rows, count;
      bool& tiled;
    } matrices[] = {{layer.mlp1, 2 * I, H / kMxfp4BlockElements, layer.mlp1_tiled},
                    {layer.mlp2, H, I / kMxfp4BlockElements, layer.mlp2_tiled}};
    for (const auto& m : matrices) {
      const size_t codes = E * m.rows * m.count;  // and as many scale bytes: one a 16-byte block
      if (!writable(m.tensor.blocks, codes * kMxfp4BlockBytes) || !writable(m.tensor.scales, codes)) continue;
      m.tiled = be.tile_experts(be.self, const_cast<uint8_t*>(m.tensor.blocks), const_cast<uint8_t*>(m.tensor.scales),
                                E, m.rows, m.count);
      tiled += m.tiled ? 1 : 0;
    }
  }
  for (MappedFile* file : opened) static_cast<void>(file->set_writable(false));
  return tiled;
}

}  // namespace

Model::Model(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
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
    if (Status s = resolve_backend_status(options.backend.c_str(), impl->owned_backend.table); !s.ok()) return s;
    impl->backend = impl->owned_backend.table;
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
    const DenseFormats formats = dense_formats(impl->weights);
    if (formats.q8_0 > 0 &&
        (impl->backend.matmul_f32_q8_0w == nullptr || impl->backend.embedding_q8_0_f32 == nullptr)) {
      return error(StatusCode::unsupported, "Model::load: backend '%s' has no kernels for Q8_0 weights (%s)",
                   impl->backend.name, impl->checkpoint->directory.c_str());
    }
    if (impl->checkpoint->gguf != nullptr) {
      Result<std::shared_ptr<const Tokenizer>> tokenizer = Tokenizer::o200k_harmony();
      if (!tokenizer.ok()) return tokenizer.status();
      if (Status s =
              check_gguf_vocabulary(*impl->checkpoint->gguf, *tokenizer.value(), impl->checkpoint->config.vocab_size,
                                    impl->checkpoint->files.front()->path().string());
          !s.ok()) {
        return s;
      }
    }
    impl->cpu_expert_layers = std::min(options.cpu_expert_layers, impl->weights.layers.size());
    uint64_t host_expert_bytes = 0;
    std::vector<const void*> host_resident =
        offloaded_experts(impl->checkpoint->config, impl->weights, impl->cpu_expert_layers, host_expert_bytes);
    // The budget is checked before weights are hashed, validated or placed.
    const uint64_t needed = impl->backend.host_memory ? impl->weights.bytes : impl->weights.bytes - host_expert_bytes;
    if (options.memory_budget_bytes > 0 && needed > options.memory_budget_bytes) {
      return error(StatusCode::out_of_memory,
                   "Model::load: the weights need %llu bytes of %s memory, over the budget of %llu bytes%s",
                   static_cast<unsigned long long>(needed), impl->backend.name,
                   static_cast<unsigned long long>(options.memory_budget_bytes),
                   impl->backend.host_memory ? "" : " (cpu_expert_layers keeps experts on the host)");
    }
    const uint64_t fingerprint = weights_fingerprint(impl->checkpoint->config, impl->weights);
    if (options.validate_weights) {
      if (Status s = validate_tensors(*impl->checkpoint); !s.ok()) return s;
    }
    if (impl->cpu_expert_layers > 0) {
      if (Status s = resolve_backend_status("cpu", impl->expert_backend); !s.ok()) return s;
    }
    Placement placement(impl->backend, options, impl->weights.bytes, std::move(host_resident));
    if (Status s = place_all(placement, impl->checkpoint->config, impl->weights); !s.ok()) return s;
    const size_t tiled_matrices = tile_experts(*impl);

    ModelInfo& info = impl->info;
    info.config = impl->checkpoint->config;
    info.directory = impl->checkpoint->directory;
    info.max_context_length = max_context_length(info.config);
    info.parameter_count = impl->weights.parameter_count;
    info.weight_bytes = impl->weights.bytes;
    for (const auto& file : impl->checkpoint->files) info.mapped_file_bytes += file->size();
    info.checkpoint_files = impl->checkpoint->files.size();
    info.realigned_bytes = impl->checkpoint->realigned_bytes;
    info.layout = layout_name(impl->checkpoint->layout);
    info.dense_format = formats.name();
    info.converted_bytes = impl->checkpoint->converted_bytes;
    info.backend = impl->backend.name;
    info.cpu_expert_layers = impl->cpu_expert_layers;
    info.host_expert_bytes = host_expert_bytes;
    info.tiled_expert_matrices = tiled_matrices;
    info.fingerprint = fingerprint;
    impl->rope = std::make_unique<RopeYarn>(info.config);
    impl->runtime = options.runtime;
    impl->log(LogLevel::info,
              "loaded %s (%s layout): %lld layers, %llu parameters, %llu weight bytes in %zu file(s), backend %s",
              info.directory.c_str(), layout_name(impl->checkpoint->layout),
              static_cast<long long>(info.config.num_hidden_layers),
              static_cast<unsigned long long>(info.parameter_count), static_cast<unsigned long long>(info.weight_bytes),
              info.checkpoint_files, info.backend.c_str());
    if (tiled_matrices > 0) {
      impl->log(LogLevel::info, "%zu of %zu expert matrices reordered in place into %s's tiles", tiled_matrices,
                2 * impl->weights.layers.size(), info.backend.c_str());
    }
    return std::shared_ptr<const Model>(new Model(std::move(impl)));
  });
}

}  // namespace ossrt
