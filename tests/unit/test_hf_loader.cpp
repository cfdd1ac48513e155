// The Hugging Face layout: the bundled tiny-a model (original layout) written
// as transformers' conversion writes it (sharded, renamed, q/k/v split, HF
// config.json) must bind the same bytes and compute the same logits; every
// inconsistency between config, index and shards is refused by name.
#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "checkpoint_writer.hpp"
#include "io/hf_config.h"
#include "io/hf_layout_writer.h"
#include "io/layout_hf.h"
#include "layout_runs.hpp"
#include "model/weights.h"
#include "ossrt/ossrt.hpp"

using namespace ossrt;
using testsupport::bound_bytes;
using testsupport::check_fails;
using testsupport::max_abs_difference;
using testsupport::open_or_fail;
using testsupport::Run;
using testsupport::run;
using testsupport::TempDir;
namespace fs = std::filesystem;

namespace {

const fs::path kTinyA = OSSRT_TEST_DATA_DIR "/tiny-a";
constexpr const char* kShard0 = "model-00000-of-00001.safetensors";  // of two: numbered from 0, as on the Hub
constexpr const char* kShard1 = "model-00001-of-00001.safetensors";

// tiny-a (or `source`) written in the Hugging Face layout into a fresh directory.
struct HfCopy {
  TempDir dir;
  explicit HfCopy(size_t shards = 3) { write(*open_or_fail(kTinyA), shards); }
  void write(const Checkpoint& source, size_t shards) {
    Status status = write_hf_layout(source, dir.path(), shards);
    REQUIRE_MESSAGE(status.ok(), status.to_string());
  }
  fs::path operator/(const char* name) const { return dir.path() / name; }
};

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void replace_once(const fs::path& path, const std::string& from, const std::string& to) {
  std::string text = read_text(path);
  const size_t at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, from);
  text.replace(at, from.size(), to);
  testsupport::write_text(path, text);
}

}  // namespace

TEST_CASE("tiny-a in the Hugging Face layout binds the original's bytes") {
  HfCopy copy;
  const auto original = open_or_fail(kTinyA);
  const auto hf = open_or_fail(copy.dir.path());
  CHECK(hf->layout == CheckpointLayout::hugging_face);
  CHECK_FALSE(hf->fused_qkv);
  CHECK(hf->files.size() == 3);
  CHECK(hf->tensors.count("block.0.attn.q.weight") == 1);
  CHECK(hf->tensors.at("block.0.attn.q.weight").entry.name == "model.layers.0.self_attn.q_proj.weight");
  CHECK(config_json(hf->config) == config_json(original->config));

  const auto a = bound_bytes(*original), b = bound_bytes(*hf);
  REQUIRE(a.size() == b.size());
  REQUIRE(a.size() == 1 + 4 * 19 + 2);  // q, k and v apart: 19 ranges a layer
  for (size_t i = 0; i < a.size(); ++i) {
    REQUIRE(a[i].size() == b[i].size());
    CHECK_MESSAGE(std::memcmp(a[i].data(), b[i].data(), a[i].size()) == 0, "range " << i);
    CHECK(a[i].data() != b[i].data());
  }
}

TEST_CASE("tiny-a in the Hugging Face layout computes the original's logits and tokens") {
  HfCopy sharded;
  HfCopy single(0);
  CHECK(fs::exists(single / "model.safetensors"));
  CHECK_FALSE(fs::exists(single / kHfIndexFileName));
  // The golden prompt (one token at a time in decode), 40 tokens (the panel
  // product) and 520 (oneDNN's GEMM, from 512 tokens in a chunk).
  std::vector<TokenId> long_prompt(520);
  for (size_t i = 0; i < long_prompt.size(); ++i) long_prompt[i] = static_cast<TokenId>((i * 7919) % 1536);
  const std::vector<TokenId> prompts[] = {
      {714, 1108, 958, 985, 112}, {long_prompt.begin(), long_prompt.begin() + 40}, long_prompt};
  for (const auto& prompt : prompts) {
    for (Numerics numerics : {Numerics::exact, Numerics::fast}) {
      CAPTURE(prompt.size());
      CAPTURE(static_cast<int>(numerics));
      const Run expected = run(kTinyA, prompt, numerics);
      for (const fs::path& dir : {sharded.dir.path(), single.dir.path()}) {
        const Run got = run(dir, prompt, numerics);
        CHECK(got.logits == expected.logits);  // bit for bit: same kernels, same sums
        CHECK(got.greedy == expected.greedy);
      }
    }
  }
  const Run golden = run(sharded.dir.path(), prompts[0], Numerics::exact);
  CHECK(golden.greedy.size() == 8);
  CHECK(std::vector<TokenId>(golden.greedy.begin(), golden.greedy.begin() + 4) ==
        std::vector<TokenId>{35, 515, 341, 570});  // tiny-a's golden greedy tokens

  ModelOptions in_memory;
  in_memory.weights_in_memory = true;
  in_memory.validate_weights = true;
  // In memory the CPU backend may keep the experts in its tiles, whose products add up in another order.
  CHECK(max_abs_difference(run(sharded.dir.path(), prompts[0], Numerics::exact, in_memory).logits,
                           run(kTinyA, prompts[0], Numerics::exact).logits) < 1e-4f);
}

TEST_CASE("a Hugging Face copy reports its files and the original's fingerprint") {
  HfCopy copy;
  auto original = Model::load(kTinyA);
  auto hf = Model::load(copy.dir.path());
  REQUIRE((original.ok() && hf.ok()));
  const ModelInfo& info = hf.value()->info();
  CHECK(info.directory == copy.dir.path());
  CHECK(info.checkpoint_files == 3);
  CHECK(info.parameter_count == original.value()->info().parameter_count);
  CHECK(info.weight_bytes == original.value()->info().weight_bytes);
  CHECK(info.realigned_bytes == 0);  // nothing copied: every tensor is used where the shards hold it
  // Same weights, same fingerprint: a session saved on one restores on the other.
  CHECK(info.fingerprint == original.value()->info().fingerprint);
  auto a = Session::create(original.value());
  auto b = Session::create(hf.value());
  REQUIRE((a.ok() && b.ok()));
  const std::vector<TokenId> prompt = {714, 1108, 958};
  REQUIRE(a.value()->append(prompt).ok());
  auto state = a.value()->save_state();
  REQUIRE(state.ok());
  REQUIRE(b.value()->restore_state(state.value()).ok());
  CHECK(std::vector<float>(b.value()->logits().begin(), b.value()->logits().end()) ==
        std::vector<float>(a.value()->logits().begin(), a.value()->logits().end()));
}

TEST_CASE("Hugging Face tensor names map one to one onto the canonical ones") {
  HfCopy copy;
  const auto hf = open_or_fail(copy.dir.path());
  for (const auto& [canonical, tensor] : hf->tensors) {
    CHECK(hf_tensor_name(canonical) == tensor.entry.name);
    CHECK(canonical_tensor_name(tensor.entry.name) == canonical);
  }
  CHECK(canonical_tensor_name("model.layers.12.mlp.experts.down_proj_scales") == "block.12.mlp.mlp2_weight.scales");
  CHECK(canonical_tensor_name("lm_head.weight") == "unembedding.weight");
  for (const char* name : {"model.layers.01.input_layernorm.weight", "model.layers.-1.input_layernorm.weight",
                           "model.layers..input_layernorm.weight", "model.layers.1234567890.input_layernorm.weight",
                           "model.layers.0.self_attn.qkv_proj.weight", "embedding.weight", "model.layers.0"}) {
    CHECK_MESSAGE(!canonical_tensor_name(name), name);
  }
}

TEST_CASE("the index and the shards must agree") {
  HfCopy copy(2);
  const fs::path index = copy / kHfIndexFileName;
  const std::string index_text = read_text(index);
  // A tensor of the first shard, as the index lists it.
  const std::string entry = "\"lm_head.weight\": \"" + std::string(kShard0) + "\"";
  REQUIRE(index_text.find(entry) != std::string::npos);

  SUBCASE("a shard the index names is missing") {
    fs::remove(copy / kShard1);
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::not_found, kShard1);
  }
  SUBCASE("the index places a tensor in a shard that does not hold it") {
    replace_once(index, entry, "\"lm_head.weight\": \"" + std::string(kShard1) + "\"");
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::invalid_checkpoint,
                "tensor 'lm_head.weight' is in this file, but model.safetensors.index.json places it in " +
                    std::string(kShard1));
  }
  SUBCASE("the index lists a tensor no shard holds") {
    replace_once(index, entry, entry + ", \"model.layers.0.self_attn.sinks_copy\": \"" + kShard1 + "\"");
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::invalid_checkpoint,
                "tensor 'model.layers.0.self_attn.sinks_copy' is placed in " + std::string(kShard1) +
                    ", which does not hold it");
  }
  SUBCASE("a shard holds a tensor the index does not list") {
    replace_once(index, entry + ",", "");
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::invalid_checkpoint,
                "tensor 'lm_head.weight' is not in model.safetensors.index.json");
  }
  SUBCASE("the index lists a tensor twice") {
    replace_once(index, entry, entry + ", " + entry);
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::invalid_checkpoint,
                "weight_map lists tensor 'lm_head.weight' twice");
  }
  SUBCASE("the index names a file outside the directory") {
    replace_once(index, entry, "\"lm_head.weight\": \"../" + std::string(kShard0) + "\"");
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::invalid_checkpoint,
                "weight_map entry 'lm_head.weight' must name a file of the checkpoint's directory");
  }
  SUBCASE("the index is not JSON, or has no weight_map") {
    testsupport::write_text(index, "{\"weight_map\": ");
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::invalid_checkpoint, "not valid JSON");
    testsupport::write_text(index, "{\"metadata\": {}}");
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::invalid_checkpoint, "needs a \"weight_map\"");
  }
  SUBCASE("a shard's data is truncated") {
    fs::resize_file(copy / kShard1, fs::file_size(copy / kShard1) - 1);
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::invalid_checkpoint, kShard1);
  }
  SUBCASE("no index and no model.safetensors") {
    fs::remove(index);
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::not_found,
                "neither model.safetensors.index.json nor model.safetensors");
  }
}

TEST_CASE("tensors are named as the Hugging Face layout names them") {
  auto source = open_or_fail(kTinyA);
  HfCopy copy(0);
  SUBCASE("a missing tensor") {
    source->tensors.erase("block.1.attn.sinks");
    copy.write(*source, 2);
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::tensor_mismatch,
                "missing tensor 'model.layers.1.self_attn.sinks'");
  }
  SUBCASE("a tensor of another shape") {
    std::vector<int64_t>& shape = source->tensors.at("block.0.attn.out.weight").entry.shape;
    std::swap(shape[0], shape[1]);  // same bytes, other shape
    copy.write(*source, 2);
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::tensor_mismatch,
                "tensor 'model.layers.0.self_attn.o_proj.weight' is BF16 [512, 128], expected BF16 [128, 512]");
  }
  SUBCASE("a tensor of a layer the config does not have") {
    CheckpointTensor extra = source->tensors.at("block.1.attn.sinks");
    source->tensors.emplace("block.7.attn.sinks", extra);
    copy.write(*source, 2);
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::tensor_mismatch,
                "unexpected tensor 'model.layers.7.self_attn.sinks'");
  }
}

TEST_CASE("tensors of no gpt-oss name, and dequantized experts, are refused") {
  // A single-file copy whose header renames one tensor (same length, so the
  // offsets stay valid).
  HfCopy copy(0);
  const fs::path file = copy / "model.safetensors";
  SUBCASE("dequantized expert weights") {
    replace_once(file, "\"model.layers.0.mlp.experts.down_proj_bias\"",
                 "\"model.layers.0.mlp.experts.down_proj\"     ");
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::unsupported,
                "tensor 'model.layers.0.mlp.experts.down_proj' holds dequantized (BF16) expert weights");
  }
  SUBCASE("an unknown name") {
    replace_once(file, "\"model.layers.0.self_attn.sinks\"", "\"model.layers.0.self_attn.sinkz\"");
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::tensor_mismatch,
                "unexpected tensor 'model.layers.0.self_attn.sinkz'");
  }
  SUBCASE("an original-layout name in a Hugging Face checkpoint") {
    replace_once(file, "\"model.norm.weight\"", "\"norm.scale\"       ");
    check_fails(Model::load(copy.dir.path()).status(), StatusCode::tensor_mismatch, "unexpected tensor 'norm.scale'");
  }
}

TEST_CASE("a directory with both layouts loads the original; the root alone loads too") {
  HfCopy copy(2);
  fs::create_directories(copy / "original");
  for (const char* name : {"config.json", "model.safetensors"}) fs::copy_file(kTinyA / name, copy / "original" / name);
  auto both = Model::load(copy.dir.path());
  REQUIRE_MESSAGE(both.ok(), both.status().to_string());
  CHECK(both.value()->info().directory == copy / "original");
  CHECK(both.value()->info().checkpoint_files == 1);

  // original/ without weights (only the config downloaded): the root's layout.
  fs::remove(copy / "original" / "model.safetensors");
  auto root = Model::load(copy.dir.path());
  REQUIRE_MESSAGE(root.ok(), root.status().to_string());
  CHECK(root.value()->info().directory == copy.dir.path());
  CHECK(root.value()->info().checkpoint_files == 2);

  // A root config.json in transformers' keys marks the layout even without an index.
  fs::remove_all(copy / "original");
  fs::remove(copy / kHfIndexFileName);
  check_fails(Model::load(copy.dir.path()).status(), StatusCode::not_found, "model.safetensors");
}

TEST_CASE("a Hugging Face config.json maps onto the original's keys") {
  auto tiny = open_or_fail(kTinyA);
  auto round_trip = parse_hf_config(hf_config_json(tiny->config), "config.json");
  REQUIRE_MESSAGE(round_trip.ok(), round_trip.status().to_string());
  CHECK(config_json(round_trip.value()) == config_json(tiny->config));

  // openai/gpt-oss-20b's config.json as the Hub serves it (layer_types cut to
  // the code that checks it below).
  std::string layer_types;
  for (int n = 0; n < 24; ++n)
    layer_types += std::string(n ? ", " : "") + (n % 2 ? "\"full_attention\"" : "\"sliding_attention\"");
  const std::string hub_20b =
      R"({"architectures": ["GptOssForCausalLM"], "attention_bias": true, "attention_dropout": 0.0,
      "eos_token_id": 200002, "experts_per_token": 4, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2880,
      "initial_context_length": 4096, "initializer_range": 0.02, "intermediate_size": 2880, "layer_types": [)" +
      layer_types + R"(], "max_position_embeddings": 131072, "model_type": "gpt_oss", "num_attention_heads": 64,
      "num_experts_per_tok": 4, "num_hidden_layers": 24, "num_key_value_heads": 8, "num_local_experts": 32,
      "output_router_logits": false, "pad_token_id": 199999, "quantization_config": {"modules_to_not_convert":
      ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"],
      "quant_method": "mxfp4"}, "rms_norm_eps": 1e-05, "rope_scaling": {"beta_fast": 32.0, "beta_slow": 1.0,
      "factor": 32.0, "original_max_position_embeddings": 4096, "rope_type": "yarn", "truncate": false},
      "rope_theta": 150000, "router_aux_loss_coef": 0.9, "sliding_window": 128, "swiglu_limit": 7.0,
      "tie_word_embeddings": false, "transformers_version": "4.55.0.dev0", "use_cache": true, "vocab_size": 201088})";
  auto hub = parse_hf_config(hub_20b, "config.json");
  REQUIRE_MESSAGE(hub.ok(), hub.status().to_string());
  CHECK(config_json(hub.value()) == config_json(synthetic_config("gpt-oss-20b").value()));
}

TEST_CASE("Hugging Face config values ossrt does not compute are refused by key") {
  const ModelConfig config = open_or_fail(kTinyA)->config;
  const std::string base = hf_config_json(config);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string text = base;
    const size_t at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, from);
    return text.replace(at, from.size(), to);
  };
  auto parse = [](const std::string& text) { return parse_hf_config(text, "config.json"); };
  auto fails = [&](const std::string& text, const std::string& fragment) {
    check_fails(parse(text).status(), StatusCode::invalid_config, fragment);
  };
  // {text of the valid config, its replacement, what the message says}
  const struct {
    const char *from, *to, *message;
  } cases[] = {
      {"\"model_type\": \"gpt_oss\"", "\"model_type\": \"llama\"", "key 'model_type' is 'llama'"},
      {"\"rope_type\": \"yarn\"", "\"rope_type\": \"linear\"", "key 'rope_scaling.rope_type' is 'linear'"},
      {"\"truncate\": false", "\"truncate\": true", "key 'rope_scaling.truncate' must be false"},
      {", \"truncate\": false", "", "key 'rope_scaling.truncate' must be false (absent means true)"},
      {"\"truncate\": false", "\"truncate\": false, \"mscale\": 1.0", "key 'rope_scaling.mscale' is set"},
      {"\"truncate\": false", "\"truncate\": false, \"attention_factor\": 1.2",
       "key 'rope_scaling.attention_factor' is set"},
      {"\"truncate\": false", "\"truncate\": false, \"low_freq_factor\": 1",
       "key 'rope_scaling.low_freq_factor' is not a YaRN parameter"},
      {"\"truncate\": false", "\"truncate\": false, \"partial_rotary_factor\": 0.5",
       "key 'rope_scaling.partial_rotary_factor' is 0.5"},
      {"\"truncate\": false", "\"truncate\": false, \"truncate\": false", "key 'rope_scaling.truncate' appears twice"},
      {"\"original_max_position_embeddings\": 64", "\"original_max_position_embeddings\": 4096",
       "key 'initial_context_length' is 64 but 'rope_scaling.original_max_position_embeddings' is 4096"},
      {"\"rms_norm_eps\": 1e-05", "\"rms_norm_eps\": 1e-06", "key 'rms_norm_eps' is 1e-06"},
      {"\"attention_bias\": true", "\"attention_bias\": false", "key 'attention_bias' is false"},
      {"\"tie_word_embeddings\": false", "\"tie_word_embeddings\": true", "key 'tie_word_embeddings' is true"},
      {"\"quant_method\": \"mxfp4\"", "\"quant_method\": \"bitsandbytes\"",
       "key 'quantization_config.quant_method' is 'bitsandbytes'"},
      {"\"num_experts_per_tok\": 4", "\"num_experts_per_tok\": 2",
       "key 'experts_per_token' is 4 but 'num_experts_per_tok' is 2"},
      {"\"num_local_experts\": 8", "\"num_local_experts\": 8, \"num_experts\": 4",
       "key 'num_experts' is 4 but 'num_local_experts' is 8"},
      {"\"num_local_experts\": 8,", "", "key 'num_local_experts' is missing"},
      {"\"sliding_window\": 8", "\"sliding_window\": null", "key 'sliding_window' is missing"},
      {"\"full_attention\"", "\"sliding_attention\"", "key 'layer_types' entry 1 is not 'full_attention'"},
      {"[\"sliding_attention\", ", "[\"sliding_attention\", \"full_attention\", ",
       "key 'layer_types' has 5 entries; num_hidden_layers is 4"},
      {"\"hidden_size\": 128", "\"hidden_size\": 100", "multiples of 32"},
      {"\"rope_scaling\"", "\"rope_scalings\"", "key 'rope_scaling' is missing"},
      {"\"rope_theta\": 150000.0", "\"rope_parameters\": {\"rope_type\": \"yarn\"}",
       "key 'rope_parameters' is set as well as 'rope_scaling'"},
      {"\"swiglu_limit\": 7.0", "\"swiglu_limit\": 7.0, \"swiglu_alpha\": 1.5", "key 'swiglu_alpha' is 1.5"},
  };
  for (const auto& c : cases) fails(with(c.from, c.to), c.message);
  fails("[]", "top level must be a JSON object");
  fails("{\"model_type\": ", "not valid JSON");

  SUBCASE("keys transformers ignores, and its defaults") {
    auto ignored = parse(with("\"use_cache\": true", "\"use_cache\": true, \"unsloth_version\": \"2025.8\""));
    CHECK(ignored.ok());
    auto no_layer_types = parse(with("\"layer_types\"", "\"layer_kinds\""));
    CHECK(no_layer_types.ok());
    // transformers' alias of num_local_experts.
    auto alias = parse(with("\"num_local_experts\"", "\"num_experts\""));
    REQUIRE_MESSAGE(alias.ok(), alias.status().to_string());
    CHECK(alias->num_experts == 8);
    // Without factor, transformers takes max_position_embeddings / original_max_position_embeddings.
    auto fallback = parse(with("\"factor\": 32.0, ", ""));
    REQUIRE_MESSAGE(fallback.ok(), fallback.status().to_string());
    CHECK(fallback->rope_scaling_factor == 32.0);
    auto betas = parse(with("\"beta_fast\": 4.0, \"beta_slow\": 1.0, ", "\"beta_fast\": null, "));
    REQUIRE_MESSAGE(betas.ok(), betas.status().to_string());
    CHECK(betas->rope_ntk_beta == 32.0);
    CHECK(betas->rope_ntk_alpha == 1.0);
  }
  SUBCASE("transformers 5 keeps rope_theta in rope_parameters") {
    std::string v5 = with("\"rope_scaling\": {", "\"rope_parameters\": {\"rope_theta\": 150000.0, ");
    auto parsed = parse(v5);
    REQUIRE_MESSAGE(parsed.ok(), parsed.status().to_string());
    CHECK(parsed->rope_theta == 150000.0);
    const size_t at = v5.find("\"rope_theta\": 150000.0,\n");
    REQUIRE(at != std::string::npos);
    fails(v5.replace(at, 22, "\"rope_theta\": 10000.0"), "key 'rope_theta' is 10000 but 'rope_parameters.rope_theta'");
  }
}

TEST_CASE("a Hugging Face config.json in a directory of original tensor names") {
  TempDir dir;
  fs::copy_file(kTinyA / "model.safetensors", dir.path() / "model.safetensors");
  testsupport::write_text(dir.path() / "config.json", hf_config_json(open_or_fail(kTinyA)->config));
  check_fails(Model::load(dir.path()).status(), StatusCode::tensor_mismatch,
              "not part of a gpt-oss checkpoint in the Hugging Face layout");
}
