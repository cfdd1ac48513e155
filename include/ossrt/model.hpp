// Model: a loaded gpt-oss checkpoint. Immutable after load and shared by every
// Session created from it; all const member functions are safe to call from
// any number of threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ossrt/kernel_timing.hpp"
#include "ossrt/model_config.hpp"
#include "ossrt/runtime.hpp"
#include "ossrt/status.hpp"
#include "ossrt/tokenizer.hpp"

namespace ossrt {

struct ModelInfo {
  ModelConfig config;
  std::filesystem::path directory;  // the directory the checkpoint was read from
  size_t max_context_length = 0;    // initial_context_length x rope_scaling_factor
  uint64_t parameter_count = 0;     // every weight, MXFP4 elements counted singly
  uint64_t weight_bytes = 0;        // bytes of tensor data in the checkpoint files
  uint64_t mapped_file_bytes = 0;   // bytes of the memory-mapped files
  size_t checkpoint_files = 0;      // number of *.safetensors files
  // Bytes copied because a tensor's data was not aligned to its element size
  // in the file (0 for well-formed checkpoints, whose headers are padded).
  uint64_t realigned_bytes = 0;
  std::string layout;  // the checkpoint's layout: "original", "Hugging Face" or "GGUF"
  // Format of the dense matrices (attention, router, embeddings): "bf16",
  // "Q8_0", or "Q8_0 + bf16" when a file mixes them (GGUF).
  std::string dense_format;
  // Bytes the loader converted or repacked into private memory: a GGUF's
  // MXFP4 experts into the kernels' order, its F32 vectors to bf16.
  uint64_t converted_bytes = 0;
  std::string backend;  // name of the compute backend in use
  // Layers whose experts run on the CPU (ModelOptions::cpu_expert_layers,
  // capped at the layer count) and the weight bytes they keep in host memory.
  size_t cpu_expert_layers = 0;
  uint64_t host_expert_bytes = 0;
  // Expert matrices (two a layer) the backend reordered in place into its own
  // layout at load, which its MoE reads faster: the AVX-512 CPU backend's
  // 16-row tiles, where the CPU has AVX512-VNNI and VBMI and the weights are
  // the model's own memory (weights_in_memory, or a GGUF's converted
  // experts). Their products add up in another order than on plain rows:
  // logits within float rounding of another load's (a few 1e-6 on tiny-a).
  size_t tiled_expert_matrices = 0;
  // Identifies the weights: a hash of the config and of every tensor's name,
  // dtype, shape and first and last bytes. Saved session state carries it, so
  // state is never restored into a different model.
  uint64_t fingerprint = 0;
};

struct ModelOptions {
  // Compute backend by name; "cpu" (the default) is always present: the best
  // level of this CPU, or one level ("cpu-avx2", "cpu-avx512",
  // "cpu-reference"). "cuda" (device 0) or "cuda:N" runs on an NVIDIA GPU
  // (ossrt/devices.hpp lists them); where the build or machine has none, load
  // fails with StatusCode::device_error, never falling back to the CPU.
  std::string backend = "cpu";
  // Where the model and its sessions log (load summary, session memory,
  // recovered harmony anomalies); null = nowhere.
  std::shared_ptr<const Runtime> runtime;
  // Reads every weight page during load instead of on first use, so the first
  // tokens are not slowed by page faults and progress reflects the real work.
  // The embedding table is the exception: it is read one row per token, so
  // its pages stay on demand and only the rows used become resident.
  bool preload = false;
  // Called on the loading thread after each tensor is placed (read, when
  // preloading, or copied to a device) with (bytes done, bytes in total);
  // return false to stop: load() then fails with cancelled.
  std::function<bool(uint64_t done, uint64_t total)> progress;
  // Times every compute-kernel call of every session of this model (a clock
  // read and an uncontended lock per call: well under 1 % of a token at
  // gpt-oss sizes), for Model::kernel_profile. Off by default.
  bool profile_kernels = false;
  // Where the weights live. false (default): the files are memory-mapped and
  // used in place (fast load, pages shared with the page cache, resident
  // memory grows only with use). The files must then stay as they are while
  // the model lives: each append checks (fstat: size and modification time)
  // and fails with invalid_state once a file was truncated or written, and
  // the model stays unusable; but a truncation *during* a call raises SIGBUS,
  // as with any memory-mapped file. true: every file is read into private
  // memory during load (weight bytes of RAM, a full read at load): whatever
  // then happens to the files, the model is unaffected. That memory asks for
  // 2 MiB pages, so decode speed no longer depends on how the page cache
  // holds the files (gpt-oss-20b on a 2-core Zen 4: 10.1-10.8 tok/s; mapped,
  // 10.0-10.2 when the files were read into the page cache, 7.8-8.0 when it
  // held them from being written; README, Performance). The files' pages are
  // dropped from the page cache as they are copied. On CPUs with AVX512-VNNI
  // and VBMI the experts are then also reordered into the CPU backend's tiles
  // (ModelInfo::tiled_expert_matrices): decode's expert products run faster,
  // and add up in another order than a mapped load's (logits within float
  // rounding of it).
  bool weights_in_memory = false;
  // Scans every weight during load (a full read) and fails with
  // invalid_checkpoint naming the first damaged tensor: a NaN or infinity in
  // a BF16/F32 tensor, or an E8M0 scale of 255 (NaN) in an MXFP4 one.
  // Without it damaged weights load and surface later as non-finite logits,
  // which append reports (invalid_checkpoint) instead of handing them out.
  bool validate_weights = false;
  // Expert offload: the MXFP4 experts of the first N layers stay in host
  // memory (mapped, as the rest of a CPU model) and run on the best CPU
  // backend, while everything else runs on `backend`: with a GPU, this is how
  // a model larger than the GPU's memory runs (gpt-oss-120b's experts are
  // ~95 % of its weights). Per offloaded layer and step the normed input,
  // the expert choice and the residual cross to the host and the residual
  // back. 0 (default): none; at least the layer count: all. With a CPU
  // backend the result is the same (the experts run on this CPU's best level).
  size_t cpu_expert_layers = 0;
  // Refuses the load up front (out_of_memory, before any weight is placed,
  // validated or hashed; weights_in_memory has read the files by then) when the weights would need more than this many
  // bytes of the backend's memory: a GPU's device memory (what ossrt/memory_estimate.hpp calls backend_weight_bytes),
  // or the host's for a CPU backend (weight_bytes). 0 (default): no budget.
  uint64_t memory_budget_bytes = 0;
};

class Model {
 public:
  // Loads the checkpoint directory `directory`, in either layout, as it is
  // (no conversion): weights are memory-mapped and used in place, so resident
  // memory after load stays small until pages are touched.
  //  - Original gpt-oss layout: config.json (its 16 keys) + every *.safetensors.
  //  - Hugging Face layout (the Hub repository's root): transformers'
  //    config.json + the shards model.safetensors.index.json names (or one
  //    model.safetensors), MXFP4 experts; the dequantized BF16 expert variant
  //    is refused (unsupported).
  //  - A repository root holding both (original/ with config.json and
  //    *.safetensors): the original layout in original/.
  // Failure: not_found / permission_denied / io_error for files (also a shard
  // the index names that is missing), invalid_argument for a path that is not
  // a regular file (a FIFO named config.json is refused, never opened for
  // blocking reads), invalid_config for config.json (a key of the Hugging Face
  // config whose value ossrt does not compute is named), invalid_checkpoint /
  // unsupported_dtype / tensor_mismatch for tensor data (also bytes of a data
  // section no tensor covers; an index and shards that disagree), unsupported
  // (dequantized experts), out_of_memory, cancelled (options.progress
  // returned false); the message names the file, key or tensor (as the
  // checkpoint's layout names it). Thread-safe.
  static Result<std::shared_ptr<const Model>> load(const std::filesystem::path& directory,
                                                   const ModelOptions& options = {}) noexcept;

  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // Configuration and sizes of the loaded checkpoint. Never fails; any thread.
  const ModelInfo& info() const noexcept;

  // The o200k_harmony tokenizer gpt-oss uses; the same shared instance for
  // every model. Failure: out_of_memory. Thread-safe.
  Result<std::shared_ptr<const Tokenizer>> tokenizer() const noexcept;

  // Time spent per kernel and shape since load or the last
  // reset_kernel_profile(), most time first; empty unless the model was loaded
  // with profile_kernels. Failure: out_of_memory. Thread-safe.
  Result<std::vector<KernelTiming>> kernel_profile() const noexcept;
  // Starts kernel_profile's counts again from zero. Never fails; thread-safe
  // (calls running meanwhile land on either side of the reset).
  void reset_kernel_profile() const noexcept;

  struct Impl;

 private:
  friend class Session;       // sessions run the model's weights through its backend
  friend class BatchDecoder;  // as do batched steps of several sessions
  const Impl& impl() const noexcept { return *impl_; }
  explicit Model(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ossrt
