#include "io/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "io/model_config.h"
#include "util/errors.h"

namespace ossrt {
namespace {

namespace fs = std::filesystem;

// The original layout lives in original/ of a Hugging Face repository.
fs::path resolve_directory(const fs::path& directory) {
  std::error_code ec;
  if (!fs::exists(directory / "config.json", ec) || !fs::exists(directory / "original" / "config.json", ec)) {
    return directory;
  }
  bool any_original_weights = false;
  for (const auto& item : fs::directory_iterator(directory / "original", ec)) {
    any_original_weights |= item.path().extension() == ".safetensors";
  }
  return any_original_weights ? directory / "original" : directory;
}

}  // namespace

Result<std::unique_ptr<Checkpoint>> open_checkpoint(const fs::path& requested, bool in_memory) {
  std::error_code ec;
  if (!fs::is_directory(requested, ec)) {
    return error(StatusCode::not_found, "%s: not a directory (expected config.json and *.safetensors)",
                 requested.c_str());
  }
  auto checkpoint = std::make_unique<Checkpoint>();
  checkpoint->directory = resolve_directory(requested);
  Result<ModelConfig> config = load_model_config(checkpoint->directory / "config.json");
  if (!config.ok()) return config.status();
  checkpoint->config = config.value();

  std::vector<fs::path> paths;
  for (const auto& item : fs::directory_iterator(checkpoint->directory, ec)) {
    if (item.path().extension() == ".safetensors") paths.push_back(item.path());
  }
  if (ec)
    return error(StatusCode::io_error, "%s: cannot list: %s", checkpoint->directory.c_str(), ec.message().c_str());
  if (paths.empty()) {
    return error(StatusCode::not_found, "%s: no *.safetensors file", checkpoint->directory.c_str());
  }
  std::sort(paths.begin(), paths.end());
  checkpoint->file_names.reserve(paths.size());  // entries keep pointers to these names

  for (const fs::path& path : paths) {
    Result<std::unique_ptr<MappedFile>> file = MappedFile::open(path, in_memory);
    if (!file.ok()) return file.status();
    checkpoint->file_names.push_back(path.filename().string());
    const std::string& file_name = checkpoint->file_names.back();
    Result<std::vector<TensorEntry>> entries =
        parse_safetensors(file.value()->data(), file.value()->size(), path.string());
    if (!entries.ok()) return entries.status();
    for (TensorEntry& entry : entries.value()) {
      auto existing = checkpoint->tensors.find(entry.name);
      if (existing != checkpoint->tensors.end()) {
        return error(StatusCode::invalid_checkpoint, "tensor '%s' appears in both %s and %s", entry.name.c_str(),
                     existing->second.file->c_str(), file_name.c_str());
      }
      const size_t align = dtype_size(entry.dtype);
      if (entry.bytes > 0 && reinterpret_cast<uintptr_t>(entry.data) % align != 0) {
        auto copy = std::unique_ptr<uint8_t[]>(new (std::nothrow) uint8_t[entry.bytes]);
        if (!copy)
          return error(StatusCode::out_of_memory, "%s: cannot realign tensor '%s'", path.c_str(), entry.name.c_str());
        std::memcpy(copy.get(), entry.data, entry.bytes);
        entry.data = copy.get();
        checkpoint->realigned.push_back(std::move(copy));
        checkpoint->realigned_bytes += entry.bytes;
      }
      std::string name = entry.name;
      checkpoint->tensors.emplace(std::move(name), CheckpointTensor{std::move(entry), &file_name});
    }
    checkpoint->files.push_back(std::move(file.value()));
  }
  return checkpoint;
}

}  // namespace ossrt
