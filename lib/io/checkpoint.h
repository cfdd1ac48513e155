// The weights of a model as every checkpoint layout describes them: the
// config and each tensor under its canonical name, pointing into the
// memory-mapped files. One file per layout maps its files onto this
// (layout_original.cpp, layout_hf.cpp); the model binds its weights from it
// without knowing which layout they came from.
#pragma once

#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/gguf.h"
#include "io/safetensors.h"
#include "ossrt/model_config.hpp"
#include "ossrt/status.hpp"
#include "util/mapped_file.h"
#include "util/owned_pages.h"

namespace ossrt {

enum class CheckpointLayout : uint8_t {
  original,      // config.json + *.safetensors, as the reference loads it (original/ on the Hub)
  hugging_face,  // transformers' layout: the Hub repository's root
  gguf,          // llama.cpp's GGUF file (layout_gguf.h)
};

// "original", "Hugging Face", "GGUF".
const char* layout_name(CheckpointLayout layout) noexcept;

struct CheckpointTensor {
  TensorEntry entry;                  // entry.name: the tensor's name in its file
  const std::string* file = nullptr;  // file name, for messages
};

// Canonical names are the original layout's ("block.3.attn.out.weight"), but
// for the attention input projection, which a layout stores either fused,
// "block.N.attn.qkv.{weight,bias}" (rows q, k, v), or split,
// "block.N.attn.{q,k,v}.{weight,bias}" (see fused_qkv).
struct Checkpoint {
  std::filesystem::path directory;  // where config.json was found
  CheckpointLayout layout = CheckpointLayout::original;
  ModelConfig config;
  bool fused_qkv = true;  // which of the two forms of the attention input the layout has
  std::vector<std::unique_ptr<MappedFile>> files;
  std::deque<std::string> file_names;               // a deque: tensors point at its strings
  std::map<std::string, CheckpointTensor> tensors;  // by canonical name
  // Copies of tensors whose bytes are not aligned to their element size in the
  // file (never the case for well-formed checkpoints); entries point into these.
  std::vector<std::unique_ptr<uint8_t[]>> realigned;
  uint64_t realigned_bytes = 0;
  // Weights the layout converted or repacked at load into private memory
  // (GGUF: MXFP4 experts into the kernels' order, F32 vectors to bf16).
  std::vector<OwnedPages> converted;
  uint64_t converted_bytes = 0;
  // A GGUF layout's parsed file: its metadata (the tokenizer's) stays readable.
  std::unique_ptr<GgufFile> gguf;
};

// Opens the checkpoint at `path`, recognising its layout:
//  - a directory whose original/ holds config.json and *.safetensors: the
//    original layout there (the Hub repository's root holds both layouts; the
//    original is the reference's own, its attention input one tensor);
//  - else a directory with model.safetensors.index.json, or whose config.json
//    has "model_type": the Hugging Face layout (layout_hf.h);
//  - else a directory with config.json: the original layout (layout_original.h);
//  - else a directory holding one *.gguf file, or `path` a GGUF file itself:
//    llama.cpp's GGUF (layout_gguf.h);
//  - else: the original layout (whose error names the missing config.json).
// With `in_memory` the files are read into private memory, not mapped. With
// `metadata_only` (estimates), weights a layout converts at load are
// described with null data and not converted.
// Failure: not_found (no directory, no config.json, no weights file),
// permission_denied, io_error, invalid_argument (config.json or a weights file
// that is not a regular file), invalid_config, invalid_checkpoint (a file's
// structure, a tensor in two files), unsupported_dtype, unsupported (a tensor
// form ossrt does not compute), tensor_mismatch (a name the layout does not
// have), out_of_memory; messages name the file, key or tensor.
Result<std::unique_ptr<Checkpoint>> open_checkpoint(const std::filesystem::path& path, bool in_memory = false,
                                                    bool metadata_only = false);

// The name the checkpoint's layout gives canonical tensor `canonical`, for
// messages about a tensor it lacks.
std::string stored_tensor_name(const Checkpoint& checkpoint, const std::string& canonical);

// For the layouts: maps `path` (in_memory: reads it), adds it to the
// checkpoint's files and parses its safetensors header; the entries point
// into the mapping and `file_name` at the name kept for messages.
// Failure: those of MappedFile::open and parse_safetensors.
Result<std::vector<TensorEntry>> map_safetensors_file(Checkpoint& checkpoint, const std::filesystem::path& path,
                                                      bool in_memory, const std::string*& file_name);

// For the layouts: indexes `entry` (from `file`) under `canonical`, copying its
// bytes aside if they are not aligned to its element size.
// Failure: invalid_checkpoint (the canonical name is taken: a tensor in two
// files, or two names for one tensor; both files named), out_of_memory.
Status add_tensor(Checkpoint& checkpoint, std::string canonical, TensorEntry entry, const std::string* file);

}  // namespace ossrt
