#include "io/layout_original.h"

#include <algorithm>
#include <system_error>
#include <vector>

#include "io/model_config.h"
#include "util/errors.h"

namespace ossrt {

namespace fs = std::filesystem;

namespace {

// The *.safetensors files in `directory`. Increments with an error_code: the
// range-for's operator++ would throw on an error part-way through the listing.
std::vector<fs::path> list_safetensors(const fs::path& directory, std::error_code& ec) {
  std::vector<fs::path> paths;
  for (fs::directory_iterator item(directory, ec), end; !ec && item != end; item.increment(ec)) {
    if (item->path().extension() == ".safetensors") paths.push_back(item->path());
  }
  return paths;
}

}  // namespace

bool holds_original_layout(const fs::path& directory) {
  std::error_code ec;
  if (!fs::exists(directory / "config.json", ec)) return false;
  return !list_safetensors(directory, ec).empty();
}

Status read_original_layout(Checkpoint& checkpoint, bool in_memory) {
  checkpoint.layout = CheckpointLayout::original;
  checkpoint.fused_qkv = true;
  Result<ModelConfig> config = load_model_config(checkpoint.directory / "config.json");
  if (!config.ok()) return config.status();
  checkpoint.config = config.value();

  std::error_code ec;
  std::vector<fs::path> paths = list_safetensors(checkpoint.directory, ec);
  if (ec) return error(StatusCode::io_error, "%s: cannot list: %s", checkpoint.directory.c_str(), ec.message().c_str());
  if (paths.empty()) return error(StatusCode::not_found, "%s: no *.safetensors file", checkpoint.directory.c_str());
  std::sort(paths.begin(), paths.end());
  for (const fs::path& path : paths) {
    const std::string* file_name = nullptr;
    Result<std::vector<TensorEntry>> entries = map_safetensors_file(checkpoint, path, in_memory, file_name);
    if (!entries.ok()) return entries.status();
    for (TensorEntry& entry : entries.value()) {
      std::string name = entry.name;
      if (Status status = add_tensor(checkpoint, std::move(name), std::move(entry), file_name); !status.ok())
        return status;
    }
  }
  return Status::success();
}

}  // namespace ossrt
