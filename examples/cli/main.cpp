// ossrt — command-line front end of the library.
//
//   ossrt generate --model DIR --tokens 1,2,3 | --prompt TEXT [--max-tokens N] [--stop ID,..]
//   ossrt info --model DIR
//   ossrt tokenize [--special all|none] TEXT|-
//   ossrt detokenize ID,ID,...
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "ossrt/ossrt.hpp"
#include "resident_memory.h"

namespace {

constexpr const char* kUsage =
    "usage:\n"
    "  ossrt generate --model DIR (--tokens ID,ID,... | --prompt TEXT) [--max-tokens N] [--stop ID,...] [--chunk N]\n"
    "                 [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--seed S]\n"
    "      generation (greedy unless --temperature > 0); prints the generated ids (and their text for --prompt)\n"
    "  ossrt tokenize [--special all|none] TEXT|-\n"
    "      o200k_harmony token ids of TEXT (or of standard input for -)\n"
    "  ossrt detokenize ID,ID,...\n"
    "      the text of token ids\n"
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

std::string join_ids(const std::vector<ossrt::TokenId>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ids[i]);
  }
  return out;
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
    std::fprintf(stderr, "ossrt generate: --tokens needs comma-separated token ids (or use --prompt TEXT)\n%s", kUsage);
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
  ossrt::SamplerOptions sampling;
  sampling.temperature = 0.0f;  // greedy unless asked otherwise
  try {
    if (auto it = flags.find("temperature"); it != flags.end()) sampling.temperature = std::stof(it->second);
    if (auto it = flags.find("top-p"); it != flags.end()) sampling.top_p = std::stof(it->second);
    if (auto it = flags.find("min-p"); it != flags.end()) sampling.min_p = std::stof(it->second);
    if (auto it = flags.find("top-k"); it != flags.end()) sampling.top_k = std::stoul(it->second);
    if (auto it = flags.find("seed"); it != flags.end()) sampling.seed = std::stoull(it->second);
  } catch (const std::exception&) {
    std::fprintf(stderr, "ossrt generate: --temperature/--top-p/--min-p/--top-k/--seed need numbers\n");
    return 2;
  }
  auto sampler = ossrt::Sampler::create(sampling);
  if (!sampler.ok()) return fail(sampler.status());
  auto model = load(flags);
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
  const std::string_view command = argv[1];
  if (command == "tokenize") return run_tokenize(argc, argv);
  if (command == "detokenize") return run_detokenize(argc, argv);
  Flags flags;
  if (!parse_flags(argc, argv, 2, flags)) return 2;
  if (command == "generate") return run_generate(flags);
  if (command == "info") return run_info(flags);
  std::fprintf(stderr, "ossrt: unknown command '%s'\n%s", argv[1], kUsage);
  return 2;
}
