// Writes checkpoints in the original gpt-oss layout for tests: random weights
// for any configuration, and raw control over the safetensors header so that
// tests can corrupt it in specific ways.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "ossrt/model.hpp"

namespace testsupport {

// How random_tensors fills a tensor: bf16 uniform in center +- spread, or
// bytes uniform in [low, high].
struct RandomFill {
  float center = 0, spread = 0;
  int low = 0, high = 0;
};

struct TensorSpec {
  std::string name;
  std::string dtype;  // safetensors spelling: "BF16", "U8"
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;  // empty until filled
  RandomFill fill;
};

// A header plus payload: what a .safetensors file holds after the length.
struct SafetensorsImage {
  std::string header;  // JSON
  std::vector<uint8_t> payload;
};

// Lays the tensors out back to back after `leading_gap` unused bytes.
SafetensorsImage build_safetensors(const std::vector<TensorSpec>& tensors, size_t leading_gap = 0);
// Writes u64 header length + header + payload (the length is that of `header`).
void write_safetensors(const std::filesystem::path& path, const SafetensorsImage& image);

std::string config_json(const ossrt::ModelConfig& config);
void write_text(const std::filesystem::path& path, const std::string& text);

// Every tensor of a checkpoint for `config`, in file order, not yet filled.
std::vector<TensorSpec> tensor_layout(const ossrt::ModelConfig& config);

// Every tensor of a checkpoint for `config`, filled from `seed`: bf16 values
// of sensible magnitude, random MXFP4 codes with scale bytes 119..125.
std::vector<TensorSpec> random_tensors(const ossrt::ModelConfig& config, uint64_t seed);

// Writes config.json and a random model.safetensors one tensor at a time, so
// checkpoints with the real models' widths need little memory to make.
void write_random_checkpoint(const std::filesystem::path& directory, const ossrt::ModelConfig& config, uint64_t seed);

// config.json + model.safetensors in `directory` (created).
void write_checkpoint(const std::filesystem::path& directory, const ossrt::ModelConfig& config,
                      const std::vector<TensorSpec>& tensors);

// A small configuration with every feature active (YaRN, window, GQA, k < E).
ossrt::ModelConfig small_config();

// The real models' configuration (docs/gpt-oss.md §1): gpt-oss-20b is
// (24, 32), gpt-oss-120b (36, 128).
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
