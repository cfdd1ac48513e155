// ossrt-write-weather-checkpoint DIR: writes the scripted weather model
// (weather_script.h) that the C tool-call tests and the tools example run on.
#include <cstdio>
#include <exception>

#include "scripted_checkpoint.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  auto tokenizer = ossrt::Tokenizer::o200k_harmony();
  if (!tokenizer.ok()) {
    std::fprintf(stderr, "%s\n", tokenizer.status().to_string().c_str());
    return 1;
  }
  try {
    testsupport::write_scripted_checkpoint(argv[1], testsupport::weather_script(*tokenizer.value()));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n", argv[0], e.what());
    return 1;
  }
  std::printf("wrote %s\n", argv[1]);
  return 0;
}
