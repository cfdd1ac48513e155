// What a loaded Model holds (internal).
#pragma once

#include <memory>

#include "backend/backend.h"
#include "io/checkpoint.h"
#include "model/rope_yarn.h"
#include "model/weights.h"
#include "ossrt/model.hpp"

namespace ossrt {

struct Model::Impl {
  std::unique_ptr<Checkpoint> checkpoint;  // owns the mapped files
  ModelWeights weights;                    // as the backend's kernels read them
  ModelInfo info;
  Backend backend;
  std::unique_ptr<RopeYarn> rope;

  const ModelConfig& config() const noexcept { return info.config; }
};

}  // namespace ossrt
