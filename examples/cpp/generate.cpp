// A C++ program over the ossrt C++ API: tokenize a prompt, generate greedily,
// stream the text through the incremental decoder.
//
//   ossrt-example-cpp MODEL_DIR [TEXT]
#include <cstdio>
#include <string>

#include "ossrt/ossrt.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s MODEL_DIR [TEXT]\n", argv[0]);
    return 2;
  }
  auto model = ossrt::Model::load(argv[1]);
  if (!model.ok()) {
    std::fprintf(stderr, "%s\n", model.status().to_string().c_str());
    return 1;
  }
  auto tokenizer = model.value()->tokenizer();
  auto session = ossrt::Session::create(model.value());
  if (!tokenizer.ok() || !session.ok()) {
    std::fprintf(stderr, "%s\n", (tokenizer.ok() ? session.status() : tokenizer.status()).to_string().c_str());
    return 1;
  }
  auto prompt = tokenizer.value()->encode(argc > 2 ? argv[2] : "Hello");
  if (!prompt.ok()) return 1;
  // Ids the tiny test model does not have are outside its vocabulary: clamp for the demo.
  const auto vocab = static_cast<ossrt::TokenId>(model.value()->info().config.vocab_size);
  for (ossrt::TokenId& id : prompt.value()) id %= vocab;
  if (auto st = session.value()->append(prompt.value()); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.to_string().c_str());
    return 1;
  }
  auto generated = session.value()->generate_greedy(16);
  if (!generated.ok()) {
    std::fprintf(stderr, "%s\n", generated.status().to_string().c_str());
    return 1;
  }
  ossrt::StreamDecoder stream(tokenizer.value());
  std::string text;
  for (ossrt::TokenId id : generated.value()) {
    if (!stream.push(id, text).ok()) return 1;
  }
  stream.finish(text);
  std::printf("%zu tokens: %s\n", generated.value().size(), text.c_str());
  return 0;
}
