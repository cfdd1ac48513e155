// What the chat-level unit tests share: harmony's renderer, a seeded
// sampler at a temperature, text with its special tokens encoded, a test
// model written and loaded once.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "checkpoint_writer.hpp"
#include "ossrt/harmony.hpp"
#include "ossrt/model.hpp"
#include "ossrt/sampler.hpp"
#include "scripted_checkpoint.hpp"

namespace chat_test {

// The model `write(directory)` puts in a temporary directory, written and
// loaded on the first call (each lambda type is its own model).
template <class Write>
std::shared_ptr<const ossrt::Model> model_written_once(Write write) {
  static testsupport::TempDir dir;
  static std::shared_ptr<const ossrt::Model> model = [&] {
    write(dir.path());
    auto loaded = ossrt::Model::load(dir.path());
    REQUIRE(loaded.ok());
    return loaded.value();
  }();
  return model;
}

inline const ossrt::harmony::Renderer& renderer() {
  static ossrt::harmony::Renderer instance(ossrt::Tokenizer::o200k_harmony().value());
  return instance;
}

inline ossrt::Sampler sampler_at(uint64_t seed, float temperature) {
  ossrt::SamplerOptions options;
  options.seed = seed;
  options.temperature = temperature;
  return ossrt::Sampler::create(options).value();
}

// The scripted weather model (tests/support/weather_script.h): it calls
// get_weather, then answers once a call is in its context.
inline std::shared_ptr<const ossrt::Model> weather_model() {
  return model_written_once([](const std::filesystem::path& dir) {
    testsupport::write_scripted_checkpoint(dir, testsupport::weather_script(*renderer().tokenizer()));
  });
}

inline std::vector<ossrt::TokenId> encode_all(const std::string& text) {
  return renderer().tokenizer()->encode(text, ossrt::AllowedSpecials::all()).value();
}

}  // namespace chat_test
