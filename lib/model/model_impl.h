// What a loaded Model holds (internal).
#pragma once

#include <memory>

#include "backend/backend.h"
#include "backend/kernel_profiler.h"
#include "io/checkpoint.h"
#include "model/rope_yarn.h"
#include "model/weights.h"
#include "ossrt/model.hpp"
#include "util/errors.h"

namespace ossrt {

// The resolved backend table, destroyed (a device context and the weights
// placed on it) after everything that used it.
struct OwnedBackend {
  Backend table{};
  OwnedBackend() = default;
  OwnedBackend(const OwnedBackend&) = delete;
  OwnedBackend& operator=(const OwnedBackend&) = delete;
  ~OwnedBackend() { release_backend(table); }
};

struct Model::Impl {
  OwnedBackend owned_backend;              // first member: destroyed last
  std::unique_ptr<Checkpoint> checkpoint;  // owns the mapped files
  ModelWeights weights;                    // as the backend's kernels read them
  ModelInfo info;
  Backend backend;  // the profiler's table when profiling
  // ModelOptions::cpu_expert_layers: the first layers' experts stay in host
  // memory and run on this (CPU) backend.
  size_t cpu_expert_layers = 0;
  Backend expert_backend{};
  std::unique_ptr<KernelProfiler> profiler;
  std::unique_ptr<RopeYarn> rope;
  std::shared_ptr<const Runtime> runtime;  // may be null: no logging

  template <class... Args>
  void log(LogLevel level, const char* fmt, Args... args) const noexcept {
    if (runtime == nullptr || !runtime->enabled(level)) return;
    try {
      runtime->log(level, format(fmt, args...));
    } catch (...) {  // formatting ran out of memory: the message is dropped
    }
  }

  const ModelConfig& config() const noexcept { return info.config; }

  // invalid_state once a mapped checkpoint file was truncated or written
  // since load (see ModelOptions::weights_in_memory); sessions check it
  // around every forward pass.
  Status check_files_unchanged() const;
};

}  // namespace ossrt
