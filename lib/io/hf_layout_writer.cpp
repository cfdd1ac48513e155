#include "io/hf_layout_writer.h"

#include <algorithm>
#include <fstream>
#include <system_error>
#include <vector>

#include "io/checkpoint_writer.h"
#include "io/layout_hf.h"
#include "util/errors.h"

namespace ossrt {

namespace fs = std::filesystem;

namespace {

// One tensor to write: its bytes stay where the source checkpoint has them.
struct Piece {
  std::string canonical;
  TensorEntry entry;  // entry.name: the Hugging Face name
};

// The fused attention input block.N.attn.qkv.{weight,bias}, split by rows
// into q, k and v (the conversion's own split: no permutation).
void split_qkv(const ModelConfig& c, const std::string& canonical, const TensorEntry& fused, std::vector<Piece>& out) {
  const size_t q_rows = static_cast<size_t>(c.head_dim * c.num_attention_heads),
               kv_rows = static_cast<size_t>(c.head_dim * c.num_key_value_heads);
  const size_t row_bytes = fused.bytes / (q_rows + 2 * kv_rows);
  const std::string prefix = canonical.substr(0, canonical.rfind("qkv."));
  const std::string suffix = canonical.ends_with(".bias") ? ".bias" : ".weight";
  const uint8_t* data = fused.data;
  for (const auto& [block, rows] : {std::pair{"q", q_rows}, std::pair{"k", kv_rows}, std::pair{"v", kv_rows}}) {
    Piece piece{prefix + block + suffix, fused};
    piece.entry.shape[0] = static_cast<int64_t>(rows);
    piece.entry.data = data;
    piece.entry.bytes = rows * row_bytes;
    data += piece.entry.bytes;
    out.push_back(std::move(piece));
  }
}

Result<std::vector<Piece>> hf_pieces(const Checkpoint& source) {
  std::vector<Piece> pieces;
  for (const auto& [canonical, tensor] : source.tensors) {
    const TensorEntry& entry = tensor.entry;
    if (entry.dtype != DType::bf16 && entry.dtype != DType::u8) {
      return error(StatusCode::invalid_argument, "tensor '%s' is %s: the writer handles BF16 and U8",
                   entry.name.c_str(), dtype_name(entry.dtype));
    }
    if (source.fused_qkv && (canonical.ends_with(".attn.qkv.weight") || canonical.ends_with(".attn.qkv.bias"))) {
      split_qkv(source.config, canonical, entry, pieces);
    } else {
      pieces.push_back(Piece{canonical, entry});
    }
  }
  for (Piece& piece : pieces) {
    piece.entry.name = hf_tensor_name(piece.canonical);
    if (!canonical_tensor_name(piece.entry.name)) {
      return error(StatusCode::invalid_argument, "tensor '%s' has no Hugging Face name", piece.canonical.c_str());
    }
  }
  std::sort(pieces.begin(), pieces.end(), [](const Piece& a, const Piece& b) { return a.entry.name < b.entry.name; });
  return pieces;
}

Status write_shard(const fs::path& path, const std::vector<const Piece*>& pieces) {
  std::vector<TensorSpec> specs;
  for (const Piece* piece : pieces) {
    specs.push_back(TensorSpec{piece->entry.name, dtype_name(piece->entry.dtype), piece->entry.shape, {}, {}});
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << safetensors_prefix(safetensors_header(specs));
  for (const Piece* piece : pieces) {
    out.write(reinterpret_cast<const char*>(piece->entry.data), static_cast<std::streamsize>(piece->entry.bytes));
  }
  out.close();
  if (!out) return error(StatusCode::io_error, "%s: cannot write", path.c_str());
  return Status::success();
}

}  // namespace

std::string hf_config_json(const ModelConfig& c) {
  auto integer = [](int64_t v) { return std::to_string(v); };
  std::string layer_types;
  for (int64_t n = 0; n < c.num_hidden_layers; ++n) {
    layer_types += std::string(n > 0 ? ", " : "") + (n % 2 == 0 ? "\"sliding_attention\"" : "\"full_attention\"");
  }
  const auto max_positions =
      static_cast<int64_t>(static_cast<double>(c.initial_context_length) * std::max(1.0, c.rope_scaling_factor));
  const std::string rope = "{\"beta_fast\": " + json_number(c.rope_ntk_beta) +
                           ", \"beta_slow\": " + json_number(c.rope_ntk_alpha) +
                           ", \"factor\": " + json_number(c.rope_scaling_factor) +
                           ", \"original_max_position_embeddings\": " + integer(c.initial_context_length) +
                           ", \"rope_type\": \"yarn\", \"truncate\": false}";
  // The Hub's keys in its order; values JSON text.
  const std::pair<const char*, std::string> keys[] = {
      {"architectures", "[\"GptOssForCausalLM\"]"},
      {"attention_bias", "true"},
      {"attention_dropout", "0.0"},
      {"eos_token_id", "200002"},
      {"experts_per_token", integer(c.experts_per_token)},
      {"head_dim", integer(c.head_dim)},
      {"hidden_act", "\"silu\""},
      {"hidden_size", integer(c.hidden_size)},
      {"initial_context_length", integer(c.initial_context_length)},
      {"initializer_range", "0.02"},
      {"intermediate_size", integer(c.intermediate_size)},
      {"layer_types", "[" + layer_types + "]"},
      {"max_position_embeddings", integer(max_positions)},
      {"model_type", "\"gpt_oss\""},
      {"num_attention_heads", integer(c.num_attention_heads)},
      {"num_experts_per_tok", integer(c.experts_per_token)},
      {"num_hidden_layers", integer(c.num_hidden_layers)},
      {"num_key_value_heads", integer(c.num_key_value_heads)},
      {"num_local_experts", integer(c.num_experts)},
      {"output_router_logits", "false"},
      {"pad_token_id", "199999"},
      {"quantization_config",
       "{\"modules_to_not_convert\": [\"model.layers.*.self_attn\", \"model.layers.*.mlp.router\", "
       "\"model.embed_tokens\", \"lm_head\"], \"quant_method\": \"mxfp4\"}"},
      {"rms_norm_eps", "1e-05"},
      {"rope_scaling", rope},
      {"rope_theta", json_number(c.rope_theta)},
      {"router_aux_loss_coef", "0.9"},
      {"sliding_window", integer(c.sliding_window)},
      {"swiglu_limit", json_number(c.swiglu_limit)},
      {"tie_word_embeddings", "false"},
      {"transformers_version", "\"4.55.0.dev0\""},
      {"use_cache", "true"},
      {"vocab_size", integer(c.vocab_size)},
  };
  std::string json = "{";
  for (const auto& [key, value] : keys)
    json += std::string(json.size() > 1 ? "," : "") + "\n  \"" + key + "\": " + value;
  return json + "\n}\n";
}

Status write_hf_layout(const Checkpoint& source, const fs::path& directory, size_t shards) {
  Result<std::vector<Piece>> pieces = hf_pieces(source);
  if (!pieces.ok()) return pieces.status();
  const std::vector<Piece>& all = pieces.value();
  if (shards > all.size()) {
    return error(StatusCode::invalid_argument, "%zu shards for %zu tensors: a shard would be empty", shards,
                 all.size());
  }
  std::error_code ec;
  fs::create_directories(directory, ec);
  if (ec) return error(StatusCode::io_error, "%s: %s", directory.c_str(), ec.message().c_str());
  if (Status status = write_text_file(directory / "config.json", hf_config_json(source.config)); !status.ok())
    return status;
  if (shards == 0) {
    std::vector<const Piece*> every;
    for (const Piece& piece : all) every.push_back(&piece);
    return write_shard(directory / "model.safetensors", every);
  }
  // Consecutive runs of equal count, as save_pretrained fills shards in order.
  std::string weight_map;
  uint64_t total_size = 0;
  for (size_t shard = 0; shard < shards; ++shard) {
    const std::string file = format("model-%05zu-of-%05zu.safetensors", shard, shards - 1);
    std::vector<const Piece*> members;
    for (size_t k = shard * all.size() / shards; k < (shard + 1) * all.size() / shards; ++k) {
      const Piece& piece = all[k];
      members.push_back(&piece);
      weight_map += std::string(weight_map.empty() ? "" : ",\n") + "    \"" + piece.entry.name + "\": \"" + file + "\"";
      total_size += piece.entry.bytes;
    }
    if (Status status = write_shard(directory / file, members); !status.ok()) return status;
  }
  return write_text_file(directory / kHfIndexFileName,
                         "{\n  \"metadata\": {\"total_size\": " + std::to_string(total_size) +
                             "},\n  \"weight_map\": {\n" + weight_map + "\n  }\n}\n");
}

}  // namespace ossrt
