// ossrt-write-gguf SOURCE DEST.gguf [--dense q8_0|bf16|f32] [--fused-gate-up]
// [--snap] [--tokens]: writes the checkpoint at SOURCE as llama.cpp's GGUF of
// gpt-oss (tests and fixtures: the bundled model as users' GGUF files hold
// it). --snap rounds dense blocks to values exact in Q8_0 and bf16; --tokens
// writes tokenizer.ggml.tokens (o200k_harmony's first vocab_size spellings).
#include <cstdio>
#include <cstring>
#include <string>

#include "io/gguf_layout_writer.h"
#include "model/gguf_vocabulary.h"
#include "ossrt/tokenizer.hpp"

int main(int argc, char** argv) {
  ossrt::GgufWriteOptions options;
  bool tokens = false;
  int positional = 0;
  const char* paths[2] = {nullptr, nullptr};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dense" && i + 1 < argc) {
      const std::string type = argv[++i];
      options.dense = type == "bf16"  ? ossrt::GgufDenseType::bf16
                      : type == "f32" ? ossrt::GgufDenseType::f32
                                      : ossrt::GgufDenseType::q8_0;
    } else if (arg == "--fused-gate-up") {
      options.fused_gate_up = true;
    } else if (arg == "--snap") {
      options.snap_dense_to_q8_0 = true;
    } else if (arg == "--tokens") {
      tokens = true;
    } else if (positional < 2 && !arg.starts_with("--")) {
      paths[positional++] = argv[i];
    } else {
      positional = 3;
    }
  }
  if (positional != 2) {
    std::fprintf(stderr,
                 "usage: ossrt-write-gguf SOURCE DEST.gguf [--dense q8_0|bf16|f32] [--fused-gate-up] [--snap] "
                 "[--tokens]\n");
    return 2;
  }
  auto source = ossrt::open_checkpoint(paths[0]);
  ossrt::Status status = source.status();
  if (status.ok() && tokens) {
    auto tokenizer = ossrt::Tokenizer::o200k_harmony();
    for (int64_t id = 0; tokenizer.ok() && id < source.value()->config.vocab_size; ++id) {
      auto bytes = tokenizer.value()->token_bytes(static_cast<ossrt::TokenId>(id));
      options.tokens.push_back(tokenizer.value()->is_special(static_cast<ossrt::TokenId>(id))
                                   ? std::string(bytes.value())
                                   : ossrt::byte_level_spelling(bytes.value()));
    }
  }
  if (status.ok()) status = ossrt::write_gguf_layout(*source.value(), paths[1], options);
  if (!status.ok()) {
    std::fprintf(stderr, "ossrt-write-gguf: %s\n", status.to_string().c_str());
    return 1;
  }
  return 0;
}
