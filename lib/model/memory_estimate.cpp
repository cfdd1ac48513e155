// estimate_memory: the sizes Model::load and Session::create would allocate,
// from the same formulas (weights binding, KvCache, Workspace).
#include "ossrt/memory_estimate.hpp"

#include <algorithm>

#include "io/checkpoint.h"
#include "io/model_config.h"
#include "model/kv_cache.h"
#include "model/session_impl.h"
#include "model/transformer.h"
#include "model/weights.h"
#include "util/errors.h"

namespace ossrt {

Result<MemoryEstimate> estimate_memory(const std::filesystem::path& directory, const ModelOptions& model_options,
                                       const SessionOptions& session_options) noexcept {
  return guard("estimate_memory", [&]() -> Result<MemoryEstimate> {
    Result<std::unique_ptr<Checkpoint>> checkpoint = open_checkpoint(directory, false, /*metadata_only=*/true);
    if (!checkpoint.ok()) return checkpoint.status();
    const ModelConfig& config = checkpoint.value()->config;
    Result<ModelWeights> weights = bind_weights(*checkpoint.value());
    if (!weights.ok()) return weights.status();
    Result<SessionOptions> session = resolve_session_options(max_context_length(config), session_options);
    if (!session.ok()) return session.status();

    MemoryEstimate e;
    e.weight_bytes = weights.value().bytes;
    // Experts offloaded from a device stay in host memory (Model::load's rule).
    const size_t offloaded = std::min(model_options.cpu_expert_layers, static_cast<size_t>(config.num_hidden_layers));
    const bool device = names_device_backend(model_options.backend.c_str());
    e.host_weight_bytes = device ? expert_bytes_per_layer(config) * offloaded : e.weight_bytes;
    e.backend_weight_bytes = device ? e.weight_bytes - e.host_weight_bytes : 0;

    const KvLayout layout = kv_layout(config, session.value());
    e.kv_ring_bytes = KvCache::bytes_at(layout, 0);
    e.kv_bytes = KvCache::bytes_at(layout, layout.context_length);
    e.kv_bytes_per_token = 2ull * layout.width * kv_element_bytes(layout.type) * (layout.layers / 2);
    e.scratch_bytes = Workspace::bytes_for(config, session.value().max_batch_tokens, 1, offloaded > 0);
    e.session_bytes = e.kv_bytes + e.scratch_bytes;
    e.backend_bytes = e.backend_weight_bytes + e.session_bytes;
    e.total_bytes = e.weight_bytes + e.session_bytes;
    return e;
  });
}

}  // namespace ossrt
