#include "checkpoint_writer.hpp"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>

namespace testsupport {
namespace fs = std::filesystem;

SafetensorsImage build_safetensors(const std::vector<TensorSpec>& tensors, size_t leading_gap) {
  SafetensorsImage image;
  image.header = ossrt::safetensors_header(tensors, leading_gap);
  image.payload.resize(leading_gap, 0);
  for (const TensorSpec& t : tensors) image.payload.insert(image.payload.end(), t.bytes.begin(), t.bytes.end());
  return image;
}

void write_safetensors(const fs::path& path, const SafetensorsImage& image) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << ossrt::safetensors_prefix(image.header);
  out.write(reinterpret_cast<const char*>(image.payload.data()), static_cast<std::streamsize>(image.payload.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::vector<TensorSpec> random_tensors(const ossrt::ModelConfig& config, uint64_t seed) {
  std::vector<TensorSpec> tensors = tensor_layout(config);
  for (size_t index = 0; index < tensors.size(); ++index) {
    TensorSpec& t = tensors[index];
    t.bytes.resize(ossrt::tensor_byte_size(t));
    ossrt::fill_random(t, ossrt::tensor_stream(seed, index), 0, t.bytes);
  }
  return tensors;
}

void write_random_checkpoint(const fs::path& directory, const ossrt::ModelConfig& config, uint64_t seed) {
  const ossrt::Status status = ossrt::write_synthetic_checkpoint(directory, config, seed);
  if (!status.ok()) throw std::runtime_error(status.to_string());
}

void write_checkpoint(const fs::path& directory, const ossrt::ModelConfig& config,
                      const std::vector<TensorSpec>& tensors) {
  fs::create_directories(directory);
  write_text(directory / "config.json", config_json(config));
  write_safetensors(directory / "model.safetensors", build_safetensors(tensors));
}

ossrt::ModelConfig small_config() {
  return ossrt::synthetic_config("small").value();
}

ossrt::ModelConfig gpt_oss_config(int64_t layers, int64_t experts) {
  ossrt::ModelConfig c = ossrt::synthetic_config("gpt-oss-20b").value();
  c.num_hidden_layers = layers;
  c.num_experts = experts;
  return c;
}

TempDir::TempDir() {
  std::string pattern = (fs::temp_directory_path() / "ossrt-test-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

}  // namespace testsupport
