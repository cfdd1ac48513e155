#include "flags.h"

#include <charconv>
#include <cstdio>
#include <string_view>

namespace ossrt_cli {

bool parse_flags(int argc, char** argv, int first, Flags& flags, const std::set<std::string>& switches) {
  for (int i = first; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (!arg.starts_with("--")) {
      std::fprintf(stderr, "ossrt: expected --flag, got '%s'\n", argv[i]);
      return false;
    }
    const char* name = argv[i] + 2;
    if (switches.count(name)) {
      flags.insert_or_assign(name, std::string(1, '1'));  // (operator= with a literal trips GCC 12 -Wrestrict)
    } else if (i + 1 < argc) {
      flags[name] = argv[++i];
    } else {
      std::fprintf(stderr, "ossrt: --%s needs a value\n", name);
      return false;
    }
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

std::string join_ids(const std::vector<ossrt::TokenId>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ids[i]);
  }
  return out;
}

bool parse_sampling(const Flags& flags, const char* command, ossrt::SamplerOptions& options) {
  try {
    if (auto it = flags.find("temperature"); it != flags.end()) options.temperature = std::stof(it->second);
    if (auto it = flags.find("top-p"); it != flags.end()) options.top_p = std::stof(it->second);
    if (auto it = flags.find("min-p"); it != flags.end()) options.min_p = std::stof(it->second);
    if (auto it = flags.find("top-k"); it != flags.end()) options.top_k = std::stoul(it->second);
    if (auto it = flags.find("seed"); it != flags.end()) options.seed = std::stoull(it->second);
  } catch (const std::exception&) {
    std::fprintf(stderr, "ossrt %s: --temperature/--top-p/--min-p/--top-k/--seed need numbers\n", command);
    return false;
  }
  return true;
}

int parse_synthetic(const Flags& flags, const std::string& preset, const char* command, ossrt::ModelConfig& config,
                    size_t& seed) {
  auto made = ossrt::synthetic_config(preset);
  if (!made.ok()) return fail(made.status());
  config = made.value();
  if (auto it = flags.find("layers"); it != flags.end()) {
    size_t layers = 0;
    if (!parse_size(it->second, layers) || layers == 0) {
      std::fprintf(stderr, "ossrt %s: --layers needs a positive integer\n", command);
      return 2;
    }
    config.num_hidden_layers = static_cast<int64_t>(layers);
  }
  seed = 1;
  if (auto it = flags.find("seed"); it != flags.end() && !parse_size(it->second, seed)) {
    std::fprintf(stderr, "ossrt %s: --seed needs a non-negative integer\n", command);
    return 2;
  }
  return 0;
}

bool parse_numerics(const Flags& flags, const char* command, ossrt::SessionOptions& options) {
  const auto it = flags.find("numerics");
  if (it == flags.end()) return true;
  if (it->second == "exact" || it->second == "fast") {
    options.numerics = it->second == "fast" ? ossrt::Numerics::fast : ossrt::Numerics::exact;
    return true;
  }
  std::fprintf(stderr, "ossrt %s: --numerics is exact or fast\n", command);
  return false;
}

int fail(const ossrt::Status& status) {
  std::fprintf(stderr, "ossrt: %s\n", status.to_string().c_str());
  return 1;
}

ossrt::Result<std::shared_ptr<const ossrt::Model>> load_model(const Flags& flags, const ossrt::ModelOptions& options) {
  auto it = flags.find("model");
  if (it == flags.end()) return ossrt::Status(ossrt::StatusCode::invalid_argument, "--model DIR is required");
  return ossrt::Model::load(it->second, options);
}

}  // namespace ossrt_cli
