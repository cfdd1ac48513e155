// An independent forward pass written straight from docs/model.md: double
// precision, no KV cache, the whole sequence at once, its own decoding of
// bf16 and MXFP4. Tests compare the library against it on configurations for
// which no golden outputs exist.
#pragma once

#include <vector>

#include "checkpoint_writer.hpp"

namespace testsupport {

// Logits [tokens.size(), vocab] for every position.
std::vector<double> naive_forward(const ossrt::ModelConfig& config, const std::vector<TensorSpec>& tensors,
                                  const std::vector<int>& tokens);

}  // namespace testsupport
