// A checkpoint directory: config.json plus every *.safetensors file in it,
// memory-mapped, with the tensors indexed by name across files.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "ossrt/model_config.hpp"
#include "ossrt/status.hpp"
#include "util/mapped_file.h"

namespace ossrt {

struct CheckpointTensor {
  TensorEntry entry;
  const std::string* file = nullptr;  // file name, for messages
};

struct Checkpoint {
  std::filesystem::path directory;  // where config.json was found
  ModelConfig config;
  std::vector<std::unique_ptr<MappedFile>> files;
  std::vector<std::string> file_names;
  std::map<std::string, CheckpointTensor> tensors;
  // Copies of tensors whose bytes are not aligned to their element size in the
  // file (never the case for well-formed checkpoints); views point into these.
  std::vector<std::unique_ptr<uint8_t[]>> realigned;
  uint64_t realigned_bytes = 0;
};

// Opens `directory`. A Hugging Face repo root whose original/ folder holds the
// original layout is followed there. Failure: not_found (no directory, no
// config.json, no *.safetensors), io_error, invalid_config,
// invalid_checkpoint (including a tensor name present in two files),
// unsupported_dtype, out_of_memory.
// With `in_memory` the files are read into private memory, not mapped.
Result<std::unique_ptr<Checkpoint>> open_checkpoint(const std::filesystem::path& directory, bool in_memory = false);

}  // namespace ossrt
