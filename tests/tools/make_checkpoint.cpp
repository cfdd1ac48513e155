// ossrt-make-checkpoint: writes a random checkpoint in the original gpt-oss
// layout, with the real models' shapes or the test suite's small one. Used to
// measure loading and memory on real widths, since the real weights cannot be
// downloaded here.
//
//   ossrt-make-checkpoint --preset gpt-oss-20b|gpt-oss-120b|small [--layers N] [--seed S] --out DIR
#include <charconv>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "checkpoint_writer.hpp"

namespace {

ossrt::ModelConfig real_config(int64_t layers, int64_t experts) {
  ossrt::ModelConfig c;
  c.num_hidden_layers = layers;
  c.num_experts = experts;
  c.experts_per_token = 4;
  c.vocab_size = 201088;
  c.hidden_size = 2880;
  c.intermediate_size = 2880;
  c.swiglu_limit = 7.0;
  c.head_dim = 64;
  c.num_attention_heads = 64;
  c.num_key_value_heads = 8;
  c.sliding_window = 128;
  c.initial_context_length = 4096;
  c.rope_theta = 150000;
  c.rope_scaling_factor = 32;
  c.rope_ntk_alpha = 1;
  c.rope_ntk_beta = 32;
  return c;
}

bool parse_int(const char* text, int64_t& out) {
  auto [end, ec] = std::from_chars(text, text + std::strlen(text), out);
  return ec == std::errc() && *end == '\0' && out > 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string preset, out;
  int64_t layers = 0, seed = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--preset")
      preset = argv[i + 1];
    else if (flag == "--out")
      out = argv[i + 1];
    else if (flag == "--layers" && parse_int(argv[i + 1], layers)) {
    } else if (flag == "--seed" && parse_int(argv[i + 1], seed)) {
    } else
      out.clear(), i = argc;
  }
  ossrt::ModelConfig config;
  if (preset == "gpt-oss-20b")
    config = real_config(24, 32);
  else if (preset == "gpt-oss-120b")
    config = real_config(36, 128);
  else if (preset == "small")
    config = testsupport::small_config();
  else
    out.clear();
  if (out.empty() || argc % 2 == 0) {
    std::fprintf(stderr,
                 "usage: ossrt-make-checkpoint --preset gpt-oss-20b|gpt-oss-120b|small [--layers N] "
                 "[--seed S] --out DIR\n");
    return 2;
  }
  if (layers > 0) config.num_hidden_layers = layers;
  try {
    testsupport::write_random_checkpoint(out, config, static_cast<uint64_t>(seed));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ossrt-make-checkpoint: %s\n", e.what());
    return 1;
  }
  std::printf("wrote %s (%s, %lld layers)\n", out.c_str(), preset.c_str(),
              static_cast<long long>(config.num_hidden_layers));
  return 0;
}
