// ossrt info, tokenize, detokenize.
#include <cstdio>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "resident_memory.h"

namespace ossrt_cli {

namespace {

void print_devices() {
  const std::vector<ossrt::DeviceInfo> devices = ossrt::list_devices();
  std::printf("backends             cpu, cpu-avx2, cpu-avx512, cpu-reference%s\n",
              devices.empty() ? "" : ", cuda, cuda:N");
  if (devices.empty()) std::printf("gpus                 none (no CUDA build, driver or device)\n");
  for (const ossrt::DeviceInfo& d : devices) {
    std::printf("gpu %-16s %s, %.1f GiB (%.1f GiB free)\n", d.backend.c_str(), d.description.c_str(),
                static_cast<double>(d.memory_bytes) / (1ull << 30), static_cast<double>(d.free_bytes) / (1ull << 30));
  }
}

}  // namespace

int run_info(const ParsedFlags& flags) {
  if (!flags.text("model")) {
    print_devices();
    return 0;
  }
  const auto before = ossrt_cli::resident_memory();
  auto model = load_model(flags);
  if (!model.ok()) return fail(model.status());
  print_devices();
  const auto after = ossrt_cli::resident_memory();
  const ossrt::ModelInfo& info = model.value()->info();
  const ossrt::ModelConfig& c = info.config;
  std::printf("directory            %s\n", info.directory.c_str());
  std::printf("layout               %s (dense weights %s)\n", info.layout.c_str(), info.dense_format.c_str());
  std::printf("backend              %s\n", info.backend.c_str());
  if (info.cpu_expert_layers > 0)
    std::printf("experts on the cpu   %zu layers, %llu bytes in host memory\n", info.cpu_expert_layers,
                static_cast<unsigned long long>(info.host_expert_bytes));
  std::printf("layers               %lld\n", static_cast<long long>(c.num_hidden_layers));
  std::printf("hidden / intermediate %lld / %lld\n", static_cast<long long>(c.hidden_size),
              static_cast<long long>(c.intermediate_size));
  std::printf("heads q / kv / dim   %lld / %lld / %lld\n", static_cast<long long>(c.num_attention_heads),
              static_cast<long long>(c.num_key_value_heads), static_cast<long long>(c.head_dim));
  std::printf("experts (top-k)      %lld (%lld)\n", static_cast<long long>(c.num_experts),
              static_cast<long long>(c.experts_per_token));
  std::printf("vocab                %lld\n", static_cast<long long>(c.vocab_size));
  std::printf("max context          %zu\n", info.max_context_length);
  std::printf("parameters           %llu\n", static_cast<unsigned long long>(info.parameter_count));
  std::printf("files                %zu (%llu bytes mapped)\n", info.checkpoint_files,
              static_cast<unsigned long long>(info.mapped_file_bytes));
  if (info.realigned_bytes > 0) {
    std::printf("realigned (copied)   %llu bytes: tensor data not aligned in the file\n",
                static_cast<unsigned long long>(info.realigned_bytes));
  }
  if (info.converted_bytes > 0) {
    std::printf("converted at load    %llu bytes in private memory (experts repacked, vectors to bf16)\n",
                static_cast<unsigned long long>(info.converted_bytes));
  }
  if (info.tiled_expert_matrices > 0) {
    std::printf("experts in tiles     %zu of %zu matrices reordered at load for %s\n", info.tiled_expert_matrices,
                2 * static_cast<size_t>(c.num_hidden_layers), info.backend.c_str());
  }
  std::printf("resident after load  %zu bytes (%+lld over the process before loading)\n", after.current_bytes,
              static_cast<long long>(after.current_bytes) - static_cast<long long>(before.current_bytes));
  return 0;
}

int run_estimate(const ParsedFlags& flags) {
  ossrt::ModelOptions model_options;
  model_options.backend = flags.text("backend").value_or("cpu");
  model_options.cpu_expert_layers = flags.count("cpu-expert-layers").value_or(0);
  ossrt::SessionOptions session_options;
  session_options.context_length = flags.count("context").value_or(0);
  session_options.max_batch_tokens = flags.count("chunk").value_or(512);
  session_options.numerics = numerics_from_flags(flags);
  auto estimate = ossrt::estimate_memory(flags.text("model").value_or(""), model_options, session_options);
  if (!estimate.ok()) return fail(estimate.status());
  const ossrt::MemoryEstimate& e = estimate.value();
  const struct {
    const char* key;
    uint64_t bytes;
  } rows[] = {{"weight_bytes", e.weight_bytes},           {"backend_weight_bytes", e.backend_weight_bytes},
              {"host_weight_bytes", e.host_weight_bytes}, {"kv_bytes_per_token", e.kv_bytes_per_token},
              {"kv_ring_bytes", e.kv_ring_bytes},         {"kv_bytes", e.kv_bytes},
              {"scratch_bytes", e.scratch_bytes},         {"session_bytes", e.session_bytes},
              {"backend_bytes", e.backend_bytes},         {"total_bytes", e.total_bytes}};
  if (flags.has("json")) {
    const char* separator = "{";
    for (const auto& row : rows) {
      std::printf("%s\"%s\":%llu", separator, row.key, static_cast<unsigned long long>(row.bytes));
      separator = ",";
    }
    std::printf("}\n");
    return 0;
  }
  for (const auto& row : rows)
    std::printf("%-22s %16llu  %10.3f GiB\n", row.key, static_cast<unsigned long long>(row.bytes),
                static_cast<double>(row.bytes) / (1ull << 30));
  return 0;
}

int run_tokenize(const ParsedFlags& flags) {
  const ossrt::AllowedSpecials allowed =
      flags.text("special") == "all" ? ossrt::AllowedSpecials::all() : ossrt::AllowedSpecials::none();
  std::string text = flags.text("text").value_or("");
  if (text == "-") {
    std::ostringstream in;
    in << std::cin.rdbuf();
    text = in.str();
  }
  auto tokenizer = ossrt::Tokenizer::o200k_harmony();
  if (!tokenizer.ok()) return fail(tokenizer.status());
  auto ids = tokenizer.value()->encode(text, allowed);
  if (!ids.ok()) return fail(ids.status());
  std::printf("%s\n", join_ids(ids.value()).c_str());
  return 0;
}

int run_detokenize(const ParsedFlags& flags) {
  const std::vector<ossrt::TokenId> ids = flags.ids("ids").value_or(std::vector<ossrt::TokenId>{});
  auto tokenizer = ossrt::Tokenizer::o200k_harmony();
  if (!tokenizer.ok()) return fail(tokenizer.status());
  auto text = tokenizer.value()->decode(ids);
  if (!text.ok()) return fail(text.status());
  std::fwrite(text.value().data(), 1, text.value().size(), stdout);
  std::printf("\n");
  return 0;
}

}  // namespace ossrt_cli
