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
    config = testsupport::gpt_oss_config(24, 32);
  else if (preset == "gpt-oss-120b")
    config = testsupport::gpt_oss_config(36, 128);
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
