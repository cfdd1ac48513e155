// Synthetic checkpoints: random weights written in the original gpt-oss
// layout (config.json + model.safetensors), deterministic from a seed. The
// real weights are 13 GB / 65 GB; these let tests, demos and benchmarks run
// the real loading code on any shape. Random weights produce meaningless text.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "ossrt/model_config.hpp"
#include "ossrt/status.hpp"

namespace ossrt {

class Session;  // ossrt/session.hpp

// Configuration by preset name:
//   "gpt-oss-20b", "gpt-oss-120b"  the real models' shapes (docs/model.md §1);
//   "tiny-chat"                    the full 201,088-id vocabulary (so harmony's
//                                  special tokens exist) at width 32: ~26 MB;
//   "small"                        97 ids, every feature active (YaRN, window,
//                                  GQA, top-k < experts): a few KB.
// Failure: invalid_argument (unknown name; the message lists the presets).
Result<ModelConfig> synthetic_config(std::string_view preset) noexcept;

// config.json in the original layout's spelling.
std::string config_json(const ModelConfig& config);

// Writes `directory`/config.json and `directory`/model.safetensors (directory
// is created) with weights drawn from `seed`: bf16 values of sensible
// magnitude, random MXFP4 codes with scale bytes near 2^-4. Tensors are
// generated and written one at a time, so the real widths need little memory.
// `progress(bytes written, total bytes)` is called after each tensor; return
// false to stop (cancelled; the files are left incomplete).
// Failure: invalid_argument (a config the layout cannot hold: a width not a
// multiple of 32, a non-positive size), io_error (with the path), cancelled.
Status write_synthetic_checkpoint(const std::filesystem::path& directory, const ModelConfig& config, uint64_t seed,
                                  const std::function<bool(uint64_t, uint64_t)>& progress = {}) noexcept;

// Fills an empty `session` with `positions` tokens (random ids) whose keys and
// values are random, as if a prompt that long had been prefilled, without
// running the model: benchmarks measure decode at a context depth in seconds
// (the cost of attending to a position does not depend on what it holds).
// The session has no logits afterwards; append a token next.
// Failure: invalid_state (the session holds tokens), context_overflow (more
// than the session's context_length), out_of_memory.
Status fill_synthetic_context(Session& session, size_t positions, uint64_t seed) noexcept;

}  // namespace ossrt
