// The gpt-oss forward pass over one chunk of tokens, in data-flow order:
// embedding -> per layer (attention block, MoE block) -> final norm ->
// unembedding. Every operation goes through the backend table.
#pragma once

#include <atomic>
#include <cstddef>
#include <span>
#include <vector>

#include "model/device_buffer.h"
#include "model/kv_cache.h"
#include "model/model_impl.h"
#include "ossrt/session.hpp"

namespace ossrt {

// Activation buffers for chunks of up to max_tokens tokens (backend memory).
struct Workspace {
  size_t max_tokens = 0;
  DeviceBuffer token_ids;       // [T] int32
  DeviceBuffer residual;        // [T, H]  the residual stream x
  DeviceBuffer normed;          // [T, H]  RMSNorm output
  DeviceBuffer qkv;             // [T, D*(NQ+2*NKV)]
  DeviceBuffer attention;       // [T, NQ*D]
  DeviceBuffer router_logits;   // [T, E]
  DeviceBuffer expert_ids;      // [T, k] int32
  DeviceBuffer expert_weights;  // [T, k]
  DeviceBuffer moe_scratch;     // [T, k, 3I]
  DeviceBuffer rope_cos;        // [T, D/2]
  DeviceBuffer rope_sin;        // [T, D/2]
  DeviceBuffer logits;          // [logits_rows, V]
  size_t logits_rows = 0;
  DeviceBuffer kv_rows;  // [layers, kv_row_count] KvRow: batched steps' caches (forward_rows)
  size_t kv_row_count = 0;
  std::vector<float> host_cos, host_sin;  // [T, D/2] staging for the RoPE tables
  // Host copies for experts run on the CPU (ModelOptions::cpu_expert_layers).
  std::vector<float> host_normed, host_residual;  // [T, H]
  std::vector<int32_t> host_expert_ids;           // [T, k]
  std::vector<float> host_expert_weights;         // [T, k]
  std::vector<float> host_moe_scratch;            // [T, k, 3I]

  // Failure: out_of_memory.
  static Result<Workspace> create(const Model::Impl& model, size_t max_tokens);
  // What bytes() is after create and reserve_logits(logits_rows), with the
  // host staging of experts on the CPU or without.
  static uint64_t bytes_for(const ModelConfig& config, size_t max_tokens, size_t logits_rows,
                            bool cpu_experts) noexcept;
  // Makes room for `rows` rows of logits. Failure: out_of_memory.
  Status reserve_logits(const Model::Impl& model, size_t rows);
  // Makes room for batched steps of `rows` rows. Failure: out_of_memory.
  Status reserve_rows(const Model::Impl& model, size_t rows);
  // Bytes of every buffer (device and host staging).
  size_t bytes() const noexcept;
};

// Runs tokens[0..n) at positions first_position.. through the model, storing
// their keys/values in `cache` (which must already have room), and downloads
// the logits of rows [logits_from, n) into host_logits ([n - logits_from, V]).
// The ids must be valid and n <= workspace.max_tokens. `cancel` is checked
// before every layer; a stop there returns StatusCode::cancelled. A device
// backend's failure returns its status (the session is then unusable). A stopped chunk only
// wrote cache slots of its own positions and of positions at least a window
// behind first_position, so the cache stays valid for positions before it.
// Numerics::fast lets the experts multiply bf16-rounded inputs (the cache's
// element type is the cache's own).
Status forward_chunk(const Model::Impl& model, KvCache& cache, Workspace& workspace, const int32_t* tokens, size_t n,
                     size_t first_position, size_t logits_from, Numerics numerics, float* host_logits,
                     const std::atomic<bool>& cancel);

// One batched step: row t is a token of a conversation whose cache is
// caches[t], at positions[t] (the cache has room there); each row's keys and
// values go to its own cache and its attention reads only that cache. Rows
// of one conversation (a prompt chunk) lie at consecutive positions of one
// cache: every row's keys are stored before any attention, so the chunk must
// fit the cache's ring beside the window (at most max_batch_tokens rows, the
// bound the ring is sized for). Downloads the logits of the rows listed in
// logits_rows (strictly increasing) into host_logits ([logits_rows.size(), V]).
// The rows must share the caches' element type (one numerics) and
// n <= workspace.max_tokens. Every weight is read once for all rows.
// Failure: as forward_chunk.
Status forward_rows(const Model::Impl& model, std::span<KvCache* const> caches, std::span<const size_t> positions,
                    std::span<const size_t> logits_rows, Workspace& workspace, const int32_t* tokens, Numerics numerics,
                    float* host_logits, const std::atomic<bool>& cancel);

}  // namespace ossrt
