// Checks shared by the tests of each checkpoint layout: the weight ranges a
// checkpoint binds, a model's logits and greedy tokens for a prompt, and a
// refusal's code and message.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "model/weights.h"
#include "ossrt/ossrt.hpp"

namespace testsupport {

inline std::unique_ptr<ossrt::Checkpoint> open_or_fail(const std::filesystem::path& path) {
  auto checkpoint = ossrt::open_checkpoint(path);
  REQUIRE_MESSAGE(checkpoint.ok(), checkpoint.status().to_string());
  return std::move(checkpoint.value());
}

// Every weight range the model binds, q, k and v apart, as bytes.
inline std::vector<std::span<const uint8_t>> bound_bytes(const ossrt::Checkpoint& checkpoint) {
  ossrt::Result<ossrt::ModelWeights> weights = ossrt::bind_weights(checkpoint);
  REQUIRE_MESSAGE(weights.ok(), weights.status().to_string());
  std::vector<std::span<const uint8_t>> ranges;
  ossrt::for_each_weight(checkpoint.config, weights.value(), /*blocks_apart=*/true,
                         [&](auto*& pointer, size_t elements, const char*, bool) {
                           ranges.emplace_back(reinterpret_cast<const uint8_t*>(pointer), elements * sizeof(*pointer));
                         });
  return ranges;
}

inline float max_abs_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  float worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]));
  return worst;
}

struct Run {
  std::vector<float> logits;  // every position of the prompt
  std::vector<ossrt::TokenId> greedy;
};

inline Run run(const std::filesystem::path& path, std::span<const ossrt::TokenId> prompt, ossrt::Numerics numerics,
               const ossrt::ModelOptions& options = {}) {
  auto model = ossrt::Model::load(path, options);
  REQUIRE_MESSAGE(model.ok(), model.status().to_string());
  ossrt::SessionOptions session_options;
  session_options.numerics = numerics;
  auto session = ossrt::Session::create(model.value(), session_options);
  REQUIRE(session.ok());
  Run result;
  REQUIRE(session.value()->append(prompt, &result.logits).ok());
  auto greedy = session.value()->generate_greedy(8);
  REQUIRE(greedy.ok());
  result.greedy = greedy.value();
  return result;
}

inline void check_fails(const ossrt::Status& status, ossrt::StatusCode code, const std::string& fragment) {
  CHECK_MESSAGE(status.code() == code, status.to_string());
  CHECK_MESSAGE(status.message().find(fragment) != std::string::npos, status.to_string());
}

}  // namespace testsupport
