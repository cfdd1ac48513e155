// Writes checkpoints in the original gpt-oss layout for tests: random weights
// for any configuration, and raw control over the safetensors header so that
// tests can corrupt it in specific ways.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "io/checkpoint_writer.h"
#include "ossrt/model.hpp"
#include "ossrt/synthetic.hpp"

namespace testsupport {

using ossrt::RandomFill;
using ossrt::TensorSpec;

// A header plus payload: what a .safetensors file holds after the length.
struct SafetensorsImage {
  std::string header;  // JSON
  std::vector<uint8_t> payload;
};

// Lays the tensors out back to back after `leading_gap` unused bytes.
SafetensorsImage build_safetensors(const std::vector<TensorSpec>& tensors, size_t leading_gap = 0);
// Writes u64 header length + header + payload (the length is that of `header`).
void write_safetensors(const std::filesystem::path& path, const SafetensorsImage& image);

using ossrt::config_json;
void write_text(const std::filesystem::path& path, const std::string& text);

using ossrt::tensor_layout;

// Every tensor of a checkpoint for `config`, filled from `seed`: bf16 values
// of sensible magnitude, random MXFP4 codes with scale bytes 119..125.
std::vector<TensorSpec> random_tensors(const ossrt::ModelConfig& config, uint64_t seed);

// ossrt::write_synthetic_checkpoint, throwing on failure.
void write_random_checkpoint(const std::filesystem::path& directory, const ossrt::ModelConfig& config, uint64_t seed);

// config.json + model.safetensors in `directory` (created).
void write_checkpoint(const std::filesystem::path& directory, const ossrt::ModelConfig& config,
                      const std::vector<TensorSpec>& tensors);

// The "small" synthetic preset: every feature active (YaRN, window, GQA, k < E).
ossrt::ModelConfig small_config();

// The real models' shapes with `layers` layers and `experts` experts.
ossrt::ModelConfig gpt_oss_config(int64_t layers, int64_t experts);

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace testsupport
