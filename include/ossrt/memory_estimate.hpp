// What a model and one session will take, from the checkpoint's metadata
// alone (headers and config, no weight read), before loading.
#pragma once

#include <cstdint>
#include <filesystem>

#include "ossrt/model.hpp"
#include "ossrt/session.hpp"
#include "ossrt/status.hpp"

namespace ossrt {

struct MemoryEstimate {
  uint64_t weight_bytes = 0;          // every weight tensor
  uint64_t backend_weight_bytes = 0;  // copied to the backend's device memory (0 on the CPU: mapped in place)
  uint64_t host_weight_bytes = 0;     // read from host memory (all of them on the CPU; offloaded experts on a GPU)
  uint64_t kv_bytes_per_token = 0;    // one position of every dense layer, at the session's numerics
  uint64_t kv_ring_bytes = 0;         // the banded layers' rings (fixed in the context length)
  uint64_t kv_bytes = 0;              // the whole cache once the session holds its context_length
  uint64_t scratch_bytes = 0;         // activations for one chunk of max_batch_tokens and one row of logits
  uint64_t session_bytes = 0;         // kv_bytes + scratch_bytes, on the backend
  uint64_t backend_bytes = 0;         // backend_weight_bytes + session_bytes: device memory (0 weights on CPU)
  uint64_t total_bytes = 0;           // weight_bytes + session_bytes
};

// Estimates `model_options.backend` loading `directory` (any layout Model::load
// reads) and one session with `session_options` at its full context_length
// (0 = the model's maximum). Opens the files and reads their headers only;
// resolves no backend (a GPU's figures need no GPU). Failure: Model::load's
// for the files and config, invalid_argument for session options
// Session::create would refuse. Thread-safe.
Result<MemoryEstimate> estimate_memory(const std::filesystem::path& directory, const ModelOptions& model_options = {},
                                       const SessionOptions& session_options = {}) noexcept;

}  // namespace ossrt
