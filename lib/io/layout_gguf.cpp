#include "io/layout_gguf.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <system_error>
#include <vector>

#include "io/gguf_config.h"
#include "io/layer_names.h"
#include "util/errors.h"
#include "util/numeric.h"
#include "util/owned_pages.h"

namespace ossrt {

namespace fs = std::filesystem;

namespace {

using bf16_t = uint16_t;  // raw bfloat16 bits

constexpr std::string_view kGgufLayerPrefix = "blk.", kCanonicalLayerPrefix = "block.";

// How a tensor becomes its canonical entry.
enum class Kind : uint8_t {
  dense,   // a matrix: Q8_0 or BF16 in place, F16 / F32 rounded to bf16
  vector,  // norms, biases, sinks: bf16 (in place when BF16)
};

struct NameMap {
  std::string_view gguf, canonical;
  Kind kind;
};

// Per layer, after "blk.N." / "block.N.". The experts' weights and mlp1's
// bias are assembled from several tensors (below).
constexpr NameMap kLayerNames[] = {
    {"attn_norm.weight", "attn.norm.scale", Kind::vector},
    {"attn_q.weight", "attn.q.weight", Kind::dense},
    {"attn_q.bias", "attn.q.bias", Kind::vector},
    {"attn_k.weight", "attn.k.weight", Kind::dense},
    {"attn_k.bias", "attn.k.bias", Kind::vector},
    {"attn_v.weight", "attn.v.weight", Kind::dense},
    {"attn_v.bias", "attn.v.bias", Kind::vector},
    {"attn_output.weight", "attn.out.weight", Kind::dense},
    {"attn_output.bias", "attn.out.bias", Kind::vector},
    {"attn_sinks.weight", "attn.sinks", Kind::vector},
    {"attn_sinks", "attn.sinks", Kind::vector},  // older converters: no ".weight"
    {"post_attention_norm.weight", "mlp.norm.scale", Kind::vector},
    {"ffn_gate_inp.weight", "mlp.gate.weight", Kind::dense},
    {"ffn_gate_inp.bias", "mlp.gate.bias", Kind::vector},
    {"ffn_down_exps.bias", "mlp.mlp2_bias", Kind::vector},
};
constexpr NameMap kModelNames[] = {
    {"token_embd.weight", "embedding.weight", Kind::dense},
    {"output_norm.weight", "norm.scale", Kind::vector},
    {"output.weight", "unembedding.weight", Kind::dense},
};

// The expert tensors of one layer, collected before they are assembled.
enum ExpertPart : uint8_t { gate, up, gate_up, down, gate_bias, up_bias, gate_up_bias, kExpertParts };
constexpr std::string_view kExpertNames[kExpertParts] = {
    "ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_gate_up_exps.weight", "ffn_down_exps.weight",
    "ffn_gate_exps.bias",   "ffn_up_exps.bias",   "ffn_gate_up_exps.bias",
};

std::vector<int64_t> shape_of(const GgufTensor& t) {
  return std::vector<int64_t>(t.dims.rbegin(), t.dims.rend());
}

uint64_t element_count(const GgufTensor& t) {
  uint64_t n = 1;
  for (int64_t d : t.dims) n *= static_cast<uint64_t>(d);
  return n;
}

// Element i of a float tensor (F32, F16 or BF16) as fp32.
float float_element(uint32_t type, const uint8_t* data, size_t i) {
  if (type == static_cast<uint32_t>(GgmlType::f32)) {
    float f;
    std::memcpy(&f, data + i * sizeof f, sizeof f);
    return f;
  }
  uint16_t bits;
  std::memcpy(&bits, data + i * sizeof bits, sizeof bits);
  return type == static_cast<uint32_t>(GgmlType::f16) ? f16_to_f32(bits) : bf16_to_f32(bits);
}

// Element i as bf16 bits: BF16 as it is, F32 and F16 rounded to nearest even.
bf16_t bf16_element(uint32_t type, const uint8_t* data, size_t i) {
  if (type == static_cast<uint32_t>(GgmlType::bf16)) {
    bf16_t bits;
    std::memcpy(&bits, data + i * sizeof bits, sizeof bits);
    return bits;
  }
  return f32_to_bf16(float_element(type, data, i));
}

bool is_float_type(uint32_t type) {
  return type == static_cast<uint32_t>(GgmlType::f32) || type == static_cast<uint32_t>(GgmlType::f16) ||
         type == static_cast<uint32_t>(GgmlType::bf16);
}

// Weight k (0-31) of a ggml MXFP4 block's codes: low nibbles hold 0-15.
uint8_t ggml_code(const uint8_t* codes, size_t k) {
  return k < 16 ? codes[k] & 0x0f : codes[k - 16] >> 4;
}

// One row of ggml MXFP4 blocks into the original layout: scale bytes apart,
// each code byte holding weights 2j (low nibble) and 2j+1.
void repack_mxfp4_row(const uint8_t* source, size_t blocks, uint8_t* codes, uint8_t* scales) {
  for (size_t b = 0; b < blocks; ++b) {
    const uint8_t* block = source + b * kGgmlMxfp4BlockBytes;
    scales[b] = block[0];
    for (size_t j = 0; j < kMxfp4BlockBytes; ++j) {
      codes[b * kMxfp4BlockBytes + j] =
          static_cast<uint8_t>(ggml_code(block + 1, 2 * j) | ggml_code(block + 1, 2 * j + 1) << 4);
    }
  }
}

// Lets the kernel drop the pages of [data, data + bytes) once read (a file
// mapping's stay in the page cache, reclaimable; an in-memory copy's are
// freed and would read back as zeros) so they leave our RSS.
void release_mapped_pages(const uint8_t* data, size_t bytes) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) / page * page;
  if (end > begin) static_cast<void>(::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED));
}

class GgufReader {
 public:
  GgufReader(Checkpoint& checkpoint, const GgufFile& gguf, const std::string* file_name, bool release_pages,
             bool metadata_only)
      : c_(checkpoint), gguf_(gguf), file_(file_name), release_pages_(release_pages), metadata_only_(metadata_only) {}

  Status read() {
    std::map<std::string, std::array<const GgufTensor*, kExpertParts>> experts;  // by layer prefix
    for (const GgufTensor& t : gguf_.tensors()) {
      std::string_view layer, rest;
      Status status;
      if (split_layer_name(t.name, kGgufLayerPrefix, layer, rest)) {
        const std::string canonical_prefix = std::string(kCanonicalLayerPrefix) + std::string(layer) + ".";
        const auto part = std::find(std::begin(kExpertNames), std::end(kExpertNames), rest);
        const auto simple = std::find_if(std::begin(kLayerNames), std::end(kLayerNames),
                                         [&](const NameMap& m) { return m.gguf == rest; });
        if (part != std::end(kExpertNames)) {
          experts[canonical_prefix][static_cast<size_t>(part - std::begin(kExpertNames))] = &t;
        } else if (simple != std::end(kLayerNames)) {
          status = add_simple(t, canonical_prefix + std::string(simple->canonical), simple->kind);
        } else {
          status = unexpected(t);
        }
      } else {
        const auto simple = std::find_if(std::begin(kModelNames), std::end(kModelNames),
                                         [&](const NameMap& m) { return m.gguf == t.name; });
        status = simple != std::end(kModelNames) ? add_simple(t, std::string(simple->canonical), simple->kind)
                                                 : unexpected(t);
      }
      if (!status.ok()) return status;
    }
    for (auto& [prefix, parts] : experts) {
      if (Status status = add_experts(prefix, parts); !status.ok()) return status;
    }
    return Status::success();
  }

 private:
  Status unexpected(const GgufTensor& t) const {
    return error(StatusCode::tensor_mismatch, "%s: unexpected tensor '%.*s': not part of a gpt-oss GGUF",
                 file_->c_str(), static_cast<int>(t.name.size()), t.name.data());
  }

  Status refuse_type(const GgufTensor& t, const char* accepted) const {
    return error(StatusCode::unsupported_dtype, "%s: tensor '%.*s' is %s; ossrt reads %s there", file_->c_str(),
                 static_cast<int>(t.name.size()), t.name.data(), ggml_type_name(t.type_id), accepted);
  }

  TensorEntry entry_of(const GgufTensor& t, DType dtype, std::vector<int64_t> shape, const uint8_t* data,
                       size_t bytes) const {
    TensorEntry e;
    e.name = std::string(t.name);
    e.dtype = dtype;
    e.shape = std::move(shape);
    e.data = data;
    e.bytes = bytes;
    return e;
  }

  const uint8_t* bytes_of(const GgufTensor& t) const {
    Result<std::span<const uint8_t>> bytes = gguf_.tensor_bytes(t.name);
    return bytes.ok() ? bytes.value().data() : nullptr;
  }

  // Private memory for converted weights (none when describing only).
  Result<uint8_t*> owned(size_t bytes, const GgufTensor& t) {
    c_.converted_bytes += bytes;
    if (metadata_only_) return static_cast<uint8_t*>(nullptr);
    const std::string what = *file_ + ": converting '" + std::string(t.name) + "'";
    Result<OwnedPages> pages = OwnedPages::allocate(bytes, what.c_str());
    if (!pages.ok()) return pages.status();
    uint8_t* data = pages.value().data();
    c_.converted.push_back(std::move(pages.value()));
    return data;
  }

  // A float tensor as a bf16 entry: in place when BF16, else rounded.
  Status add_bf16(const GgufTensor& t, std::string canonical) {
    const uint64_t n = element_count(t);
    if (t.type_id == static_cast<uint32_t>(GgmlType::bf16)) {
      return add_tensor(c_, std::move(canonical), entry_of(t, DType::bf16, shape_of(t), bytes_of(t), t.bytes), file_);
    }
    Result<uint8_t*> out = owned(n * sizeof(bf16_t), t);
    if (!out.ok()) return out.status();
    if (out.value() != nullptr) {
      const uint8_t* in = bytes_of(t);
      for (uint64_t i = 0; i < n; ++i) {
        const bf16_t bits = bf16_element(t.type_id, in, i);
        std::memcpy(out.value() + i * sizeof bits, &bits, sizeof bits);
      }
    }
    return add_tensor(c_, std::move(canonical), entry_of(t, DType::bf16, shape_of(t), out.value(), n * 2), file_);
  }

  Status add_simple(const GgufTensor& t, std::string canonical, Kind kind) {
    if (kind == Kind::dense && t.type_id == static_cast<uint32_t>(GgmlType::q8_0)) {
      return add_tensor(c_, std::move(canonical), entry_of(t, DType::q8_0, shape_of(t), bytes_of(t), t.bytes), file_);
    }
    if (!is_float_type(t.type_id)) {
      return refuse_type(t, kind == Kind::dense ? "Q8_0, BF16, F16 or F32" : "F32, F16 or BF16");
    }
    return add_bf16(t, std::move(canonical));
  }

  // Checks that the expert weight tensors are MXFP4 of [E, rows, in] with
  // the same E and in; returns rows through `rows`.
  Status check_mxfp4(const GgufTensor& t, const GgufTensor& first, int64_t& rows) const {
    if (t.type_id != static_cast<uint32_t>(GgmlType::mxfp4)) {
      return refuse_type(t, "MXFP4 (the experts are computed in MXFP4)");
    }
    if (t.dims.size() != 3 || t.dims[0] != first.dims[0] || t.dims[2] != first.dims[2]) return shape_mismatch(t, first);
    rows = t.dims[1];
    return Status::success();
  }

  Status missing_part(const std::string& prefix, ExpertPart part) const {
    return error(StatusCode::tensor_mismatch, "%s: missing tensor '%s%.*s'", file_->c_str(),
                 gguf_tensor_name(prefix).c_str(), static_cast<int>(kExpertNames[part].size()),
                 kExpertNames[part].data());
  }

  Status add_experts(const std::string& prefix, const std::array<const GgufTensor*, kExpertParts>& p) {
    const bool fused = p[gate_up] != nullptr;
    if (fused ? (p[gate] != nullptr || p[up] != nullptr) : (p[gate] == nullptr || p[up] == nullptr)) {
      if (fused) {
        return error(StatusCode::invalid_checkpoint, "%s: layer %s has both fused and split gate/up experts",
                     file_->c_str(), gguf_tensor_name(prefix).c_str());
      }
      return missing_part(prefix, p[gate] == nullptr ? gate : up);
    }
    if (p[down] == nullptr) return missing_part(prefix, down);
    // Biases of the other form would be silently unused: refuse them.
    const ExpertPart split_biases[] = {gate_bias, up_bias}, fused_biases[] = {gate_up_bias};
    for (const ExpertPart stray :
         fused ? std::span<const ExpertPart>(split_biases) : std::span<const ExpertPart>(fused_biases)) {
      if (p[stray] != nullptr) {
        return error(StatusCode::invalid_checkpoint, "%s: tensor '%.*s' does not match the layer's %s gate/up weights",
                     file_->c_str(), static_cast<int>(p[stray]->name.size()), p[stray]->name.data(),
                     fused ? "fused" : "split");
      }
    }
    // mlp1's rows alternate glu / linear; source row r of either half.
    const GgufTensor& first = fused ? *p[gate_up] : *p[gate];
    int64_t rows = 0, up_rows = 0, down_rows = 0;
    if (Status s = check_mxfp4(first, first, rows); !s.ok()) return s;
    if (!fused) {
      if (Status s = check_mxfp4(*p[up], first, up_rows); !s.ok()) return s;
      if (up_rows != rows) return shape_mismatch(*p[up], first);
    }
    const GgufTensor& d = *p[down];
    if (d.type_id != static_cast<uint32_t>(GgmlType::mxfp4)) {
      return refuse_type(d, "MXFP4 (the experts are computed in MXFP4)");
    }
    if (d.dims.size() != 3 || d.dims[2] != first.dims[2]) return shape_mismatch(d, first);
    down_rows = d.dims[1];
    const int64_t experts = first.dims[2], in1 = first.dims[0], glu_rows = fused ? rows / 2 : rows;
    if (fused && rows % 2 != 0) return shape_mismatch(first, first);
    const std::vector<int64_t> mlp1_shape = {experts, 2 * glu_rows, in1 / 32, 16};
    const std::vector<int64_t> mlp2_shape = {experts, down_rows, d.dims[0] / 32, 16};
    // Source of mlp1 row r (of 2 * glu_rows): gate rows even, up rows odd.
    auto mlp1_row = [&](int64_t e, int64_t r) {
      const int64_t half = r / 2;
      const GgufTensor& t = fused ? first : *(r % 2 == 0 ? p[gate] : p[up]);
      const int64_t row = fused && r % 2 == 1 ? glu_rows + half : half;
      return bytes_of(t) +
             static_cast<size_t>(e * t.dims[1] + row) * static_cast<size_t>(in1 / 32) * kGgmlMxfp4BlockBytes;
    };
    auto down_row = [&](int64_t e, int64_t r) {
      return bytes_of(d) +
             static_cast<size_t>(e * down_rows + r) * static_cast<size_t>(d.dims[0] / 32) * kGgmlMxfp4BlockBytes;
    };
    if (Status s = add_repacked(prefix + "mlp.mlp1_weight", first, mlp1_shape, mlp1_row); !s.ok()) return s;
    if (Status s = add_repacked(prefix + "mlp.mlp2_weight", d, mlp2_shape, down_row); !s.ok()) return s;
    if (release_pages_) {
      for (const GgufTensor* t : {p[gate], p[up], p[gate_up], p[down]}) {
        if (t != nullptr) release_mapped_pages(bytes_of(*t), t->bytes);
      }
    }
    return add_mlp1_bias(prefix, p, fused, experts, glu_rows);
  }

  Status shape_mismatch(const GgufTensor& t, const GgufTensor& first) const {
    return error(StatusCode::invalid_checkpoint, "%s: expert tensor '%.*s' has dims that do not match '%.*s'",
                 file_->c_str(), static_cast<int>(t.name.size()), t.name.data(), static_cast<int>(first.name.size()),
                 first.name.data());
  }

  // Repacks experts x rows of ggml blocks into `<canonical>.blocks` and
  // `.scales` entries of `shape` ([E, rows, blocks per row, 16]).
  template <class RowSource>
  Status add_repacked(const std::string& canonical, const GgufTensor& named, const std::vector<int64_t>& shape,
                      RowSource&& source_row) {
    const auto experts = static_cast<size_t>(shape[0]), rows = static_cast<size_t>(shape[1]),
               blocks = static_cast<size_t>(shape[2]);
    const size_t scale_bytes = experts * rows * blocks, code_bytes = scale_bytes * kMxfp4BlockBytes;
    Result<uint8_t*> codes = owned(code_bytes, named);
    if (!codes.ok()) return codes.status();
    Result<uint8_t*> scales = owned(scale_bytes, named);
    if (!scales.ok()) return scales.status();
    if (!metadata_only_) {
      const auto total = static_cast<long long>(experts * rows);
#pragma omp parallel for schedule(static)
      for (long long job = 0; job < total; ++job) {
        const auto e = static_cast<int64_t>(static_cast<size_t>(job) / rows),
                   r = static_cast<int64_t>(static_cast<size_t>(job) % rows);
        repack_mxfp4_row(source_row(e, r), blocks, codes.value() + static_cast<size_t>(job) * blocks * kMxfp4BlockBytes,
                         scales.value() + static_cast<size_t>(job) * blocks);
      }
    }
    if (Status s =
            add_tensor(c_, canonical + ".blocks", entry_of(named, DType::u8, shape, codes.value(), code_bytes), file_);
        !s.ok()) {
      return s;
    }
    return add_tensor(c_, canonical + ".scales",
                      entry_of(named, DType::u8, {shape[0], shape[1], shape[2]}, scales.value(), scale_bytes), file_);
  }

  // mlp1's bias [E, 2 * glu_rows], rows alternating gate / up like its weights.
  Status add_mlp1_bias(const std::string& prefix, const std::array<const GgufTensor*, kExpertParts>& p, bool fused,
                       int64_t experts, int64_t glu_rows) {
    const GgufTensor* halves[2] = {fused ? p[gate_up_bias] : p[gate_bias], fused ? p[gate_up_bias] : p[up_bias]};
    for (int h = 0; h < 2; ++h) {
      if (halves[h] == nullptr) return missing_part(prefix, fused ? gate_up_bias : (h == 0 ? gate_bias : up_bias));
      if (!is_float_type(halves[h]->type_id)) return refuse_type(*halves[h], "F32, F16 or BF16");
      const int64_t expected_rows = fused ? 2 * glu_rows : glu_rows;
      if (halves[h]->dims.size() != 2 || halves[h]->dims[0] != expected_rows || halves[h]->dims[1] != experts) {
        return error(StatusCode::tensor_mismatch, "%s: tensor '%.*s' should have dims [%lld, %lld]", file_->c_str(),
                     static_cast<int>(halves[h]->name.size()), halves[h]->name.data(),
                     static_cast<long long>(expected_rows), static_cast<long long>(experts));
      }
    }
    const size_t n = static_cast<size_t>(experts * 2 * glu_rows);
    Result<uint8_t*> out = owned(n * sizeof(bf16_t), *halves[0]);
    if (!out.ok()) return out.status();
    if (out.value() != nullptr) {
      for (size_t i = 0; i < n; ++i) {
        const size_t e = i / static_cast<size_t>(2 * glu_rows), r = i % static_cast<size_t>(2 * glu_rows);
        const GgufTensor& t = *halves[r % 2];
        const size_t row = fused && r % 2 == 1 ? static_cast<size_t>(glu_rows) + r / 2 : r / 2;
        const bf16_t bits = bf16_element(t.type_id, bytes_of(t), e * static_cast<size_t>(t.dims[0]) + row);
        std::memcpy(out.value() + i * sizeof bits, &bits, sizeof bits);
      }
    }
    return add_tensor(c_, prefix + "mlp.mlp1_bias",
                      entry_of(*halves[0], DType::bf16, {experts, 2 * glu_rows}, out.value(), n * sizeof(bf16_t)),
                      file_);
  }

  Checkpoint& c_;
  const GgufFile& gguf_;
  const std::string* file_;
  bool release_pages_;
  bool metadata_only_;
};

}  // namespace

bool is_gguf_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return false;
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return false;
  char magic[4] = {};
  const size_t n = std::fread(magic, 1, sizeof magic, file);
  std::fclose(file);
  return n == sizeof magic && std::memcmp(magic, "GGUF", sizeof magic) == 0;
}

Result<fs::path> find_gguf_file(const fs::path& directory) {
  std::error_code ec;
  std::vector<fs::path> found;
  for (fs::directory_iterator item(directory, ec), end; !ec && item != end; item.increment(ec)) {
    if (item->path().extension() == ".gguf") found.push_back(item->path());
  }
  if (ec) return error(StatusCode::io_error, "%s: cannot list: %s", directory.c_str(), ec.message().c_str());
  if (found.size() > 1) {
    std::sort(found.begin(), found.end());
    std::string names;
    for (const fs::path& path : found) names += (names.empty() ? "" : ", ") + path.filename().string();
    return error(StatusCode::invalid_argument, "%s holds several GGUF files (%s): give the model as one of them",
                 directory.c_str(), names.c_str());
  }
  return found.empty() ? fs::path() : found.front();
}

Status read_gguf_layout(Checkpoint& checkpoint, const fs::path& file, bool in_memory, bool metadata_only) {
  checkpoint.layout = CheckpointLayout::gguf;
  checkpoint.fused_qkv = false;
  checkpoint.directory = file.parent_path();
  Result<std::unique_ptr<MappedFile>> mapped = MappedFile::open(file, in_memory);
  if (!mapped.ok()) return mapped.status();
  checkpoint.file_names.push_back(file.filename().string());
  const std::string* file_name = &checkpoint.file_names.back();
  const MappedFile& bytes = *mapped.value();
  checkpoint.files.push_back(std::move(mapped.value()));
  Result<GgufFile> gguf = parse_gguf(std::span<const uint8_t>(bytes.data(), bytes.size()), file.string());
  if (!gguf.ok()) return gguf.status();
  checkpoint.gguf = std::make_unique<GgufFile>(std::move(gguf.value()));
  // llama.cpp's gguf-split spreads a model over files that each hold some
  // tensors: one part alone would fail later on a missing tensor.
  if (Result<uint64_t> parts = checkpoint.gguf->get_uint("split.count"); parts.ok() && parts.value() > 1) {
    return error(StatusCode::unsupported,
                 "%s is one of %llu parts of a split GGUF, which ossrt does not read yet: merge them into one file "
                 "with llama.cpp's `llama-gguf-split --merge FIRST-PART OUT.gguf`",
                 file.c_str(), static_cast<unsigned long long>(parts.value()));
  }

  const GgufTensor* embedding = checkpoint.gguf->find_tensor("token_embd.weight");
  if (embedding == nullptr || embedding->dims.size() != 2) {
    return error(StatusCode::tensor_mismatch, "%s: no 2-dimensional tensor 'token_embd.weight'", file.c_str());
  }
  Result<ModelConfig> config = gguf_model_config(*checkpoint.gguf, embedding->dims[1], file.string());
  if (!config.ok()) return config.status();
  checkpoint.config = config.value();
  // Once repacked, the file's expert bytes are never read again: their pages
  // go (mapped: back to the page cache; in memory: freed, else the experts
  // would be held twice).
  GgufReader reader(checkpoint, *checkpoint.gguf, file_name, !metadata_only, metadata_only);
  return reader.read();
}

std::string gguf_tensor_name(std::string_view canonical) {
  std::string_view layer, rest;
  if (split_layer_name(canonical, kCanonicalLayerPrefix, layer, rest)) {
    const std::string prefix = std::string(kGgufLayerPrefix) + std::string(layer) + ".";
    for (const NameMap& m : kLayerNames) {
      if (m.canonical == rest) return prefix + std::string(m.gguf);
    }
    if (rest.starts_with("mlp.mlp1")) return prefix + "ffn_{gate,up}_exps";
    if (rest.starts_with("mlp.mlp2_weight")) return prefix + "ffn_down_exps.weight";
    if (rest.empty()) return prefix;
    return std::string(canonical);
  }
  for (const NameMap& m : kModelNames) {
    if (m.canonical == canonical) return std::string(m.gguf);
  }
  return std::string(canonical);
}

}  // namespace ossrt
