// ossrt — command-line front end of the library.
//
//   ossrt generate --model DIR --tokens 1,2,3 [--max-tokens N] [--stop ID,..]
//   ossrt info --model DIR
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "ossrt/ossrt.hpp"
#include "resident_memory.h"

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  ossrt generate --model DIR --tokens ID,ID,... [--max-tokens N] [--stop ID,...] [--chunk N]\n"
    "      greedy generation from token ids; prints the generated ids\n"
    "  ossrt info --model DIR\n"
    "      loads a checkpoint and prints its configuration and resident memory\n"
    "  ossrt --version\n";

using Flags = std::map<std::string, std::string>;

bool parse_flags(int argc, char** argv, int first, Flags& flags) {
  for (int i = first; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (!arg.starts_with("--") || i + 1 >= argc) {
      std::fprintf(stderr, "ossrt: expected --flag VALUE, got '%s'\n", argv[i]);
      return false;
    }
    flags[std::string(arg.substr(2))] = argv[++i];
  }
  return true;
}

bool parse_size(const std::string& text, size_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

bool parse_ids(const std::string& text, std::vector<ossrt::TokenId>& out) {
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    ossrt::TokenId id = 0;
    auto [end, ec] = std::from_chars(text.data() + start, text.data() + comma, id);
    if (ec != std::errc() || end != text.data() + comma) return false;
    out.push_back(id);
    start = comma + 1;
  }
  return !out.empty();
}

int fail(const ossrt::Status& status) {
  std::fprintf(stderr, "ossrt: %s\n", status.to_string().c_str());
  return 1;
}

ossrt::Result<std::shared_ptr<const ossrt::Model>> load(const Flags& flags) {
  auto it = flags.find("model");
  if (it == flags.end()) return ossrt::Status(ossrt::StatusCode::invalid_argument, "--model DIR is required");
  return ossrt::Model::load(it->second);
}

int run_info(const Flags& flags) {
  const auto before = ossrt_cli::resident_memory();
  auto model = load(flags);
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

int run_generate(const Flags& flags) {
  std::vector<ossrt::TokenId> prompt, stop;
  auto tokens = flags.find("tokens");
  if (tokens == flags.end() || !parse_ids(tokens->second, prompt)) {
    std::fprintf(stderr, "ossrt generate: --tokens needs comma-separated token ids\n%s", kUsage);
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
  auto model = load(flags);
  if (!model.ok()) return fail(model.status());
  auto session = ossrt::Session::create(model.value(), options);
  if (!session.ok()) return fail(session.status());
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  if (auto st = session.value()->append(prompt); !st.ok()) return fail(st);
  const auto t1 = Clock::now();
  auto generated = session.value()->generate_greedy(max_tokens, stop);
  if (!generated.ok()) return fail(generated.status());
  const auto t2 = Clock::now();
  for (size_t i = 0; i < generated.value().size(); ++i) std::printf("%s%d", i ? "," : "", generated.value()[i]);
  std::printf("\n");
  const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
  const double decode_s = std::chrono::duration<double>(t2 - t1).count();
  std::fprintf(stderr, "prompt %zu tokens in %.3f s; generated %zu tokens in %.3f s (%.1f tok/s)\n", prompt.size(),
               prefill_s, generated.value().size(), decode_s,
               decode_s > 0 ? static_cast<double>(generated.value().size()) / decode_s : 0.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::printf("ossrt %s\n", ossrt::version_string());
    return 0;
  }
  Flags flags;
  if (!parse_flags(argc, argv, 2, flags)) return 2;
  const std::string_view command = argv[1];
  if (command == "generate") return run_generate(flags);
  if (command == "info") return run_info(flags);
  std::fprintf(stderr, "ossrt: unknown command '%s'\n%s", argv[1], kUsage);
  return 2;
}
