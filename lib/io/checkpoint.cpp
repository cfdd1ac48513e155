#include "io/checkpoint.h"

#include <cstring>
#include <new>
#include <system_error>

#include "io/layout_gguf.h"
#include "io/layout_hf.h"
#include "io/layout_original.h"
#include "io/safetensors.h"
#include "util/errors.h"

namespace ossrt {

namespace fs = std::filesystem;

const char* layout_name(CheckpointLayout layout) noexcept {
  switch (layout) {
    case CheckpointLayout::hugging_face:
      return "Hugging Face";
    case CheckpointLayout::gguf:
      return "GGUF";
    default:
      return "original";
  }
}

Result<std::unique_ptr<Checkpoint>> open_checkpoint(const fs::path& path, bool in_memory, bool metadata_only) {
  std::error_code ec;
  auto checkpoint = std::make_unique<Checkpoint>();
  checkpoint->directory = path;
  if (!fs::is_directory(path, ec)) {
    if (!is_gguf_file(path)) {
      return error(StatusCode::not_found, "%s: neither a directory (config.json and *.safetensors) nor a GGUF file",
                   path.c_str());
    }
    if (Status status = read_gguf_layout(*checkpoint, path, in_memory, metadata_only); !status.ok()) return status;
    return checkpoint;
  }
  Status status;
  if (holds_original_layout(path / "original")) {
    checkpoint->directory = path / "original";
    status = read_original_layout(*checkpoint, in_memory);
  } else if (looks_like_hf_layout(path)) {
    status = read_hf_layout(*checkpoint, in_memory);
  } else if (!fs::exists(path / "config.json", ec)) {
    Result<fs::path> gguf = find_gguf_file(path);
    if (!gguf.ok()) return gguf.status();
    status = gguf.value().empty() ? read_original_layout(*checkpoint, in_memory)
                                  : read_gguf_layout(*checkpoint, gguf.value(), in_memory, metadata_only);
  } else {
    status = read_original_layout(*checkpoint, in_memory);
  }
  if (!status.ok()) return status;
  return checkpoint;
}

std::string stored_tensor_name(const Checkpoint& checkpoint, const std::string& canonical) {
  switch (checkpoint.layout) {
    case CheckpointLayout::hugging_face:
      return hf_tensor_name(canonical);
    case CheckpointLayout::gguf:
      return gguf_tensor_name(canonical);
    default:
      return canonical;
  }
}

namespace {

// Where a safetensors file's tensor data starts (8 + its header length, as
// far as the boundary goes), from its first 8 bytes; 0 where it has fewer
// (parse_safetensors then says why).
size_t safetensors_data_offset(const uint8_t* head, size_t bytes) noexcept {
  if (bytes < 8) return 0;
  return static_cast<size_t>(8 + safetensors_header_length(head) % MappedFile::kCopyAlignment);
}

}  // namespace

Result<std::vector<TensorEntry>> map_safetensors_file(Checkpoint& checkpoint, const fs::path& path, bool in_memory,
                                                      const std::string*& file_name) {
  // A copy in memory puts the tensor data on a 64-byte boundary: tensors at
  // offsets that are multiples of 64 in it (gpt-oss's all are) start on a
  // cache line, which the bf16 GEMVs' 512-bit loads need not to split
  // (unembedding, whole model, 2 threads, Zen 5 VM: 49 -> 65-68 GB/s, after
  // Simd::load_bf16_pair's single load took it from 30.7 to 49).
  Result<std::unique_ptr<MappedFile>> file = MappedFile::open(path, in_memory, safetensors_data_offset);
  if (!file.ok()) return file.status();
  checkpoint.file_names.push_back(path.filename().string());
  file_name = &checkpoint.file_names.back();
  const MappedFile& mapped = *file.value();
  checkpoint.files.push_back(std::move(file.value()));
  return parse_safetensors(mapped.data(), mapped.size(), path.string());
}

Status add_tensor(Checkpoint& checkpoint, std::string canonical, TensorEntry entry, const std::string* file) {
  auto existing = checkpoint.tensors.find(canonical);
  if (existing != checkpoint.tensors.end()) {
    return error(StatusCode::invalid_checkpoint, "tensor '%s' appears in both %s and %s", entry.name.c_str(),
                 existing->second.file->c_str(), file->c_str());
  }
  const size_t align = dtype_size(entry.dtype);
  if (entry.bytes > 0 && reinterpret_cast<uintptr_t>(entry.data) % align != 0) {
    auto copy = std::unique_ptr<uint8_t[]>(new (std::nothrow) uint8_t[entry.bytes]);
    if (!copy)
      return error(StatusCode::out_of_memory, "%s: cannot realign tensor '%s'", file->c_str(), entry.name.c_str());
    std::memcpy(copy.get(), entry.data, entry.bytes);
    entry.data = copy.get();
    checkpoint.realigned.push_back(std::move(copy));
    checkpoint.realigned_bytes += entry.bytes;
  }
  checkpoint.tensors.emplace(std::move(canonical), CheckpointTensor{std::move(entry), file});
  return Status::success();
}

}  // namespace ossrt
