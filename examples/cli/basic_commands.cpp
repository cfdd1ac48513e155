// ossrt info, generate, tokenize, detokenize.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>

#include "commands.h"
#include "resident_memory.h"

namespace ossrt_cli {

int run_info(const Flags& flags) {
  const auto before = ossrt_cli::resident_memory();
  auto model = load_model(flags);
  if (!model.ok()) return fail(model.status());
  const auto after = ossrt_cli::resident_memory();
  const ossrt::ModelInfo& info = model.value()->info();
  const ossrt::ModelConfig& c = info.config;
  std::printf("directory            %s\n", info.directory.c_str());
  std::printf("backend              %s\n", info.backend.c_str());
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
  std::printf("resident after load  %zu bytes (%+lld over the process before loading)\n", after.current_bytes,
              static_cast<long long>(after.current_bytes) - static_cast<long long>(before.current_bytes));
  return 0;
}

int run_tokenize(int argc, char** argv) {
  ossrt::AllowedSpecials allowed = ossrt::AllowedSpecials::none();
  int i = 2;
  if (i + 1 < argc && std::strcmp(argv[i], "--special") == 0) {
    if (std::strcmp(argv[i + 1], "all") == 0)
      allowed = ossrt::AllowedSpecials::all();
    else if (std::strcmp(argv[i + 1], "none") != 0)
      i = argc;  // usage error below
    i += 2;
  }
  if (i + 1 != argc) {
    std::fprintf(stderr, "usage: ossrt tokenize [--special all|none] TEXT|-\n");
    return 2;
  }
  std::string text = argv[i];
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

int run_detokenize(int argc, char** argv) {
  std::vector<ossrt::TokenId> ids;
  if (argc != 3 || !parse_ids(argv[2], ids)) {
    std::fprintf(stderr, "usage: ossrt detokenize ID,ID,...\n");
    return 2;
  }
  auto tokenizer = ossrt::Tokenizer::o200k_harmony();
  if (!tokenizer.ok()) return fail(tokenizer.status());
  auto text = tokenizer.value()->decode(ids);
  if (!text.ok()) return fail(text.status());
  std::fwrite(text.value().data(), 1, text.value().size(), stdout);
  std::printf("\n");
  return 0;
}

int run_generate(const Flags& flags) {
  std::vector<ossrt::TokenId> prompt, stop;
  auto tokens = flags.find("tokens");
  auto text = flags.find("prompt");
  auto tokenizer = ossrt::Tokenizer::o200k_harmony();
  if (!tokenizer.ok()) return fail(tokenizer.status());
  if (text != flags.end()) {
    auto ids = tokenizer.value()->encode(text->second, ossrt::AllowedSpecials::all());
    if (!ids.ok()) return fail(ids.status());
    prompt = ids.value();
  } else if (tokens == flags.end() || !parse_ids(tokens->second, prompt)) {
    std::fprintf(stderr,
                 "ossrt generate: --tokens needs comma-separated token ids (or use --prompt TEXT)\nsee ossrt --help\n");
    return 2;
  }
  if (auto it = flags.find("stop"); it != flags.end() && !parse_ids(it->second, stop)) {
    std::fprintf(stderr, "ossrt generate: --stop needs comma-separated token ids\n");
    return 2;
  }
  size_t max_tokens = 16;
  ossrt::SessionOptions options;
  if (auto it = flags.find("max-tokens"); it != flags.end() && !parse_size(it->second, max_tokens)) {
    std::fprintf(stderr, "ossrt generate: --max-tokens needs a non-negative integer\n");
    return 2;
  }
  if (auto it = flags.find("chunk"); it != flags.end() && !parse_size(it->second, options.max_batch_tokens)) {
    std::fprintf(stderr, "ossrt generate: --chunk needs a positive integer\n");
    return 2;
  }
  if (!parse_numerics(flags, "generate", options)) return 2;
  ossrt::SamplerOptions sampling;
  sampling.temperature = 0.0f;  // greedy unless asked otherwise
  if (!parse_sampling(flags, "generate", sampling)) return 2;
  auto sampler = ossrt::Sampler::create(sampling);
  if (!sampler.ok()) return fail(sampler.status());
  auto model = load_model(flags);
  if (!model.ok()) return fail(model.status());
  auto session = ossrt::Session::create(model.value(), options);
  if (!session.ok()) return fail(session.status());
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  if (auto st = session.value()->append(prompt); !st.ok()) return fail(st);
  const auto t1 = Clock::now();
  auto generated = session.value()->generate(max_tokens, sampler.value(), stop);
  if (!generated.ok()) return fail(generated.status());
  const auto t2 = Clock::now();
  std::printf("%s\n", join_ids(generated.value()).c_str());
  if (text != flags.end()) std::printf("%s\n", tokenizer.value()->decode_lossy(generated.value()).c_str());
  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stderr, "prompt %zu tokens in %.3f s; generated %zu tokens in %.3f s (%.1f tok/s)\n", prompt.size(),
               prefill_s, generated.value().size(), decode_s,
               decode_s > 0 ? static_cast<double>(generated.value().size()) / decode_s : 0.0);
  return 0;
}

}  // namespace ossrt_cli
