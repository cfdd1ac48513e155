#include "io/layout_hf.h"

#include <simdjson.h>

#include <map>
#include <set>
#include <system_error>
#include <vector>

#include "io/hf_config.h"
#include "io/layer_names.h"
#include "util/errors.h"
#include "util/regular_file.h"

namespace ossrt {

namespace fs = std::filesystem;

namespace {

struct NamePair {
  std::string_view hf, canonical;
};

constexpr std::string_view kHfLayerPrefix = "model.layers.", kCanonicalLayerPrefix = "block.";

// Per layer, after the prefixes above and the layer number.
constexpr NamePair kLayerNames[] = {
    {"input_layernorm.weight", "attn.norm.scale"},
    {"self_attn.q_proj.weight", "attn.q.weight"},
    {"self_attn.q_proj.bias", "attn.q.bias"},
    {"self_attn.k_proj.weight", "attn.k.weight"},
    {"self_attn.k_proj.bias", "attn.k.bias"},
    {"self_attn.v_proj.weight", "attn.v.weight"},
    {"self_attn.v_proj.bias", "attn.v.bias"},
    {"self_attn.o_proj.weight", "attn.out.weight"},
    {"self_attn.o_proj.bias", "attn.out.bias"},
    {"self_attn.sinks", "attn.sinks"},
    {"post_attention_layernorm.weight", "mlp.norm.scale"},
    {"mlp.router.weight", "mlp.gate.weight"},
    {"mlp.router.bias", "mlp.gate.bias"},
    {"mlp.experts.gate_up_proj_blocks", "mlp.mlp1_weight.blocks"},
    {"mlp.experts.gate_up_proj_scales", "mlp.mlp1_weight.scales"},
    {"mlp.experts.gate_up_proj_bias", "mlp.mlp1_bias"},
    {"mlp.experts.down_proj_blocks", "mlp.mlp2_weight.blocks"},
    {"mlp.experts.down_proj_scales", "mlp.mlp2_weight.scales"},
    {"mlp.experts.down_proj_bias", "mlp.mlp2_bias"},
};
constexpr NamePair kModelNames[] = {
    {"model.embed_tokens.weight", "embedding.weight"},
    {"model.norm.weight", "norm.scale"},
    {"lm_head.weight", "unembedding.weight"},
};
// The dequantized variant's expert weights (BF16, transposed to x·W).
constexpr std::string_view kDequantizedExperts[] = {"mlp.experts.gate_up_proj", "mlp.experts.down_proj"};

// `name` translated between the layouts: from the `from` member of the pairs to the `to` member.
std::optional<std::string> translate(std::string_view name, std::string_view NamePair::*from,
                                     std::string_view NamePair::*to, std::string_view from_prefix,
                                     std::string_view to_prefix) {
  for (const NamePair& pair : kModelNames) {
    if (name == pair.*from) return std::string(pair.*to);
  }
  std::string_view layer, rest;
  if (!split_layer_name(name, from_prefix, layer, rest)) return std::nullopt;
  for (const NamePair& pair : kLayerNames) {
    if (rest == pair.*from) return std::string(to_prefix).append(layer).append(".").append(pair.*to);
  }
  return std::nullopt;
}

bool is_dequantized_expert(std::string_view name) {
  std::string_view layer, rest;
  if (!split_layer_name(name, kHfLayerPrefix, layer, rest)) return false;
  for (std::string_view dequantized : kDequantizedExperts) {
    if (rest == dequantized) return true;
  }
  return false;
}

Status add_hf_tensor(Checkpoint& checkpoint, TensorEntry entry, const std::string* file) {
  std::optional<std::string> canonical = canonical_tensor_name(entry.name);
  if (canonical) return add_tensor(checkpoint, std::move(*canonical), std::move(entry), file);
  if (is_dequantized_expert(entry.name)) {
    return error(StatusCode::unsupported,
                 "%s: tensor '%s' holds dequantized (%s) expert weights, which ossrt does not compute: it runs the "
                 "experts in MXFP4, as published (..._blocks and ..._scales)",
                 file->c_str(), entry.name.c_str(), dtype_name(entry.dtype));
  }
  return error(StatusCode::tensor_mismatch,
               "%s: unexpected tensor '%s': not part of a gpt-oss checkpoint in the Hugging Face layout", file->c_str(),
               entry.name.c_str());
}

// A shard name the index may give: a file of the checkpoint's own directory.
bool is_plain_file_name(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

using WeightMap = std::map<std::string, std::string, std::less<>>;  // tensor -> shard file

// model.safetensors.index.json: {"metadata": {...}, "weight_map": {tensor: file}}.
// metadata (total_size) is informational.
Result<WeightMap> read_weight_map(const fs::path& path) {
  Result<std::string> text = read_regular_file(path, kHfIndexFileName);
  if (!text.ok()) return text.status();
  simdjson::dom::parser parser;
  simdjson::padded_string padded(text.value());
  simdjson::dom::element root;
  if (auto err = parser.parse(padded).get(root); err != simdjson::SUCCESS) {
    return error(StatusCode::invalid_checkpoint, "%s: not valid JSON: %s", path.c_str(), simdjson::error_message(err));
  }
  simdjson::dom::object weight_map;
  if (root["weight_map"].get_object().get(weight_map) != simdjson::SUCCESS) {
    return error(StatusCode::invalid_checkpoint, "%s: needs a \"weight_map\" object (tensor name -> file name)",
                 path.c_str());
  }
  WeightMap map;
  for (auto field : weight_map) {
    std::string_view file;
    if (field.value.get_string().get(file) != simdjson::SUCCESS || !is_plain_file_name(file)) {
      return error(StatusCode::invalid_checkpoint,
                   "%s: weight_map entry '%.*s' must name a file of the checkpoint's directory", path.c_str(),
                   static_cast<int>(field.key.size()), field.key.data());
    }
    if (!map.emplace(std::string(field.key), std::string(file)).second) {
      return error(StatusCode::invalid_checkpoint, "%s: weight_map lists tensor '%.*s' twice", path.c_str(),
                   static_cast<int>(field.key.size()), field.key.data());
    }
  }
  if (map.empty()) return error(StatusCode::invalid_checkpoint, "%s: weight_map lists no tensor", path.c_str());
  return map;
}

// The shards of `map`, each tensor checked against the index.
Status read_shards(Checkpoint& checkpoint, const WeightMap& map, bool in_memory) {
  std::map<std::string_view, size_t> shards;  // file -> tensors the index places there
  for (const auto& [tensor, file] : map) ++shards[file];
  std::set<std::string_view> found;
  for (const auto& [shard, count] : shards) {
    const fs::path path = checkpoint.directory / shard;
    std::error_code ec;
    // Only a shard that is surely absent gets the hint; any other error (permissions, a loop) is the open's to name.
    if (!fs::exists(path, ec) && !ec) {
      return error(StatusCode::not_found, "%s: no such file, but %s places %zu tensors in it (a shard not downloaded?)",
                   path.c_str(), kHfIndexFileName, count);
    }
    const std::string* file_name = nullptr;
    Result<std::vector<TensorEntry>> entries = map_safetensors_file(checkpoint, path, in_memory, file_name);
    if (!entries.ok()) return entries.status();
    for (TensorEntry& entry : entries.value()) {
      auto listed = map.find(entry.name);
      if (listed == map.end()) {
        return error(StatusCode::invalid_checkpoint, "%s: tensor '%s' is not in %s, which must list every tensor",
                     path.c_str(), entry.name.c_str(), kHfIndexFileName);
      }
      if (listed->second != shard) {
        return error(StatusCode::invalid_checkpoint, "%s: tensor '%s' is in this file, but %s places it in %s",
                     path.c_str(), entry.name.c_str(), kHfIndexFileName, listed->second.c_str());
      }
      found.insert(listed->first);
      if (Status status = add_hf_tensor(checkpoint, std::move(entry), file_name); !status.ok()) return status;
    }
  }
  for (const auto& [tensor, file] : map) {
    if (!found.count(tensor)) {
      return error(StatusCode::invalid_checkpoint, "%s: tensor '%s' is placed in %s, which does not hold it",
                   (checkpoint.directory / kHfIndexFileName).c_str(), tensor.c_str(), file.c_str());
    }
  }
  return Status::success();
}

}  // namespace

bool looks_like_hf_layout(const fs::path& directory) {
  std::error_code ec;
  if (fs::exists(directory / kHfIndexFileName, ec)) return true;
  Result<std::string> config = read_regular_file(directory / "config.json", "config.json");
  return config.ok() && is_hf_config(config.value());
}

Status read_hf_layout(Checkpoint& checkpoint, bool in_memory) {
  checkpoint.layout = CheckpointLayout::hugging_face;
  checkpoint.fused_qkv = false;
  const fs::path config_path = checkpoint.directory / "config.json";
  Result<std::string> text = read_regular_file(config_path, "config.json");
  if (!text.ok()) return text.status();
  Result<ModelConfig> config = parse_hf_config(text.value(), config_path.string());
  if (!config.ok()) return config.status();
  checkpoint.config = config.value();

  const fs::path index_path = checkpoint.directory / kHfIndexFileName;
  std::error_code ec;
  const bool has_index = fs::exists(index_path, ec);
  if (ec) return file_error(index_path, "the shard index", ec.value());
  if (has_index) {
    Result<WeightMap> map = read_weight_map(index_path);
    if (!map.ok()) return map.status();
    return read_shards(checkpoint, map.value(), in_memory);
  }
  const fs::path single = checkpoint.directory / "model.safetensors";
  if (!fs::exists(single, ec) && !ec) {
    return error(StatusCode::not_found, "%s: neither %s nor model.safetensors", checkpoint.directory.c_str(),
                 kHfIndexFileName);
  }
  const std::string* file_name = nullptr;
  Result<std::vector<TensorEntry>> entries = map_safetensors_file(checkpoint, single, in_memory, file_name);
  if (!entries.ok()) return entries.status();
  for (TensorEntry& entry : entries.value()) {
    if (Status status = add_hf_tensor(checkpoint, std::move(entry), file_name); !status.ok()) return status;
  }
  return Status::success();
}

std::string hf_tensor_name(std::string_view canonical) {
  std::optional<std::string> name =
      translate(canonical, &NamePair::canonical, &NamePair::hf, kCanonicalLayerPrefix, kHfLayerPrefix);
  return name ? *name : std::string(canonical);
}

std::optional<std::string> canonical_tensor_name(std::string_view name) {
  return translate(name, &NamePair::hf, &NamePair::canonical, kHfLayerPrefix, kCanonicalLayerPrefix);
}

}  // namespace ossrt
