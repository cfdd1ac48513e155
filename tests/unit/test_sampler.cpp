// Sampler chain: arg-max and ties, determinism, each filter, penalties, bias,
// the distribution it draws from, and agreement with a full-sort reference.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "ossrt/sampler.hpp"
#include "sampling/draw.h"

using namespace ossrt;

namespace {

Sampler make(const SamplerOptions& options) {
  auto sampler = Sampler::create(options);
  REQUIRE_MESSAGE(sampler.ok(), sampler.status().to_string());
  return sampler.value();
}

TokenId draw(const Sampler& s, const std::vector<float>& logits, uint64_t position,
             const std::vector<TokenId>& history = {}) {
  auto id = s.sample(logits, history, position);
  REQUIRE_MESSAGE(id.ok(), id.status().to_string());
  return id.value();
}

std::vector<double> frequencies(const Sampler& s, const std::vector<float>& logits, int draws) {
  std::vector<double> f(logits.size(), 0.0);
  for (int i = 0; i < draws; ++i) f[static_cast<size_t>(draw(s, logits, static_cast<uint64_t>(i)))] += 1.0 / draws;
  return f;
}

std::vector<float> log_probs(std::vector<double> p) {
  std::vector<float> l;
  for (double x : p) l.push_back(static_cast<float>(std::log(x)));
  return l;
}

// The chain written the slow, obvious way: full sort, then each filter.
TokenId reference_draw(const SamplerOptions& o, std::vector<float> logits, uint64_t position, double u) {
  for (float& l : logits) l /= o.temperature;
  std::vector<TokenId> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](TokenId a, TokenId b) { return logits[a] > logits[b]; });
  size_t keep = o.top_k > 0 ? std::min(o.top_k, order.size()) : order.size();
  const double top = logits[order[0]];
  double total = 0;
  for (size_t i = 0; i < keep; ++i) total += std::exp(logits[order[i]] - top);
  double mass = 0;
  for (size_t i = 0; i < keep; ++i) {
    const double rel = std::exp(logits[order[i]] - top);
    if (rel < o.min_p) {
      keep = std::max<size_t>(i, 1);
      break;
    }
    mass += rel / total;
    if (o.top_p < 1.0f && mass >= o.top_p) {
      keep = i + 1;
      break;
    }
  }
  double kept = 0;
  for (size_t i = 0; i < keep; ++i) kept += std::exp(logits[order[i]] - top);
  double running = 0;
  for (size_t i = 0; i < keep; ++i) {
    running += std::exp(logits[order[i]] - top);
    if (running > u * kept) return order[i];
  }
  (void)position;
  return order[keep - 1];
}

}  // namespace

TEST_CASE("temperature 0 is arg-max with the lowest id on ties") {
  SamplerOptions o;
  o.temperature = 0;
  const Sampler s = make(o);
  CHECK(draw(s, {1.0f, 3.0f, 2.0f}, 0) == 1);
  CHECK(draw(s, {5.0f, 1.0f, 5.0f, 5.0f}, 7) == 0);
}

TEST_CASE("the same seed and position give the same token; the seed matters") {
  std::vector<float> logits(1000);
  std::mt19937 rng(1);
  std::normal_distribution<float> n(0, 2);
  for (float& l : logits) l = n(rng);
  SamplerOptions a, b;
  a.seed = 42;
  b.seed = 43;
  const Sampler s1 = make(a), s2 = make(a), s3 = make(b);
  int differ = 0;
  for (uint64_t pos = 0; pos < 200; ++pos) {
    CHECK(draw(s1, logits, pos) == draw(s2, logits, pos));
    differ += draw(s1, logits, pos) != draw(s3, logits, pos);
  }
  CHECK(differ > 100);
}

TEST_CASE("draws follow softmax(logits / temperature)") {
  const std::vector<float> logits = log_probs({0.5, 0.25, 0.125, 0.125});
  SamplerOptions o;
  auto f = frequencies(make(o), logits, 40000);
  CHECK(f[0] == doctest::Approx(0.5).epsilon(0.03));
  CHECK(f[1] == doctest::Approx(0.25).epsilon(0.05));
  o.temperature = 2.0f;  // p ~ sqrt(p0): 0.707, 0.5, 0.354, 0.354 normalised
  f = frequencies(make(o), logits, 40000);
  const double z = std::sqrt(0.5) + 0.5 + 2 * std::sqrt(0.125);
  CHECK(f[0] == doctest::Approx(std::sqrt(0.5) / z).epsilon(0.04));
  CHECK(f[2] == doctest::Approx(std::sqrt(0.125) / z).epsilon(0.06));
}

TEST_CASE("top-k, top-p and min-p keep exactly their candidates") {
  const std::vector<float> logits = log_probs({0.05, 0.6, 0.3, 0.05});
  SamplerOptions o;
  o.top_k = 1;
  auto f = frequencies(make(o), logits, 2000);
  CHECK(f[1] == doctest::Approx(1.0));
  o = SamplerOptions{};
  o.top_p = 0.5f;  // 0.6 alone covers it
  CHECK(frequencies(make(o), logits, 2000)[1] == doctest::Approx(1.0));
  o.top_p = 0.85f;  // 0.6 + 0.3
  f = frequencies(make(o), logits, 20000);
  CHECK(f[0] == 0.0);
  CHECK(f[3] == 0.0);
  CHECK(f[1] == doctest::Approx(0.6 / 0.9).epsilon(0.03));
  o = SamplerOptions{};
  o.min_p = 0.4f;  // keep p >= 0.4 x 0.6 = 0.24: ids 1 and 2
  f = frequencies(make(o), logits, 20000);
  CHECK(f[0] + f[3] == 0.0);
  CHECK(f[2] == doctest::Approx(0.3 / 0.9).epsilon(0.05));
}

TEST_CASE("filters over a full vocabulary agree with a full-sort reference") {
  std::vector<float> logits(201088);
  std::mt19937 rng(7);
  std::normal_distribution<float> n(0, 3);
  for (float& l : logits) l = n(rng);
  auto filters = [](float temperature, size_t top_k, float top_p, float min_p) {
    SamplerOptions o;
    o.temperature = temperature;
    o.top_k = top_k;
    o.top_p = top_p;
    o.min_p = min_p;
    return o;
  };
  const SamplerOptions configs[] = {filters(0.7f, 0, 0.9f, 0), filters(1.0f, 1000, 0.5f, 0),
                                    filters(1.3f, 0, 1.0f, 0.05f), filters(1.0f, 40, 1.0f, 0)};
  for (SamplerOptions o : configs) {
    o.seed = 99;
    const Sampler s = make(o);
    for (uint64_t pos = 0; pos < 30; ++pos) {
      const double u = sampling_uniform(o.seed, pos);  // the draw the sampler makes at this position
      CHECK(draw(s, logits, pos) == reference_draw(o, logits, pos, u));
    }
  }
}

TEST_CASE("penalties and logit bias") {
  SamplerOptions o;
  o.temperature = 0;
  o.repetition_penalty = 2.0f;
  // id 0: 3 -> 1.5 after the penalty, below id 1's 2.0.
  CHECK(draw(make(o), {3.0f, 2.0f}, 0, {0}) == 1);
  // Negative logits are multiplied: -1 -> -2, below id 1's -1.5.
  CHECK(draw(make(o), {-1.0f, -1.5f}, 0, {0}) == 1);
  o = SamplerOptions{};
  o.temperature = 0;
  o.frequency_penalty = 0.6f;  // two occurrences: 3 - 1.2 = 1.8 < 2
  CHECK(draw(make(o), {3.0f, 2.0f}, 0, {0, 0}) == 1);
  CHECK(draw(make(o), {3.0f, 2.0f}, 0, {0}) == 0);
  o.penalty_last_n = 1;  // only the last token counts
  CHECK(draw(make(o), {3.0f, 2.0f}, 0, {0, 1}) == 0);
  o = SamplerOptions{};
  o.temperature = 0;
  o.presence_penalty = 1.5f;
  CHECK(draw(make(o), {3.0f, 2.0f}, 0, {0, 0, 0}) == 1);
  o = SamplerOptions{};
  o.logit_bias = {{2, 100.0f}};
  CHECK(draw(make(o), {3.0f, 2.0f, 0.0f}, 5) == 2);
  o.logit_bias = {{7, 1.0f}};
  CHECK(make(o).sample(std::vector<float>{1.0f, 2.0f}, {}, 0).status().code() == StatusCode::invalid_argument);
}

TEST_CASE("invalid options are refused with the option named") {
  SamplerOptions o;
  o.temperature = -1;
  CHECK(Sampler::create(o).status().message().find("temperature") != std::string::npos);
  o = SamplerOptions{};
  o.top_p = 0;
  CHECK(Sampler::create(o).status().code() == StatusCode::invalid_argument);
  o = SamplerOptions{};
  o.min_p = 2;
  CHECK(Sampler::create(o).status().code() == StatusCode::invalid_argument);
  o = SamplerOptions{};
  o.repetition_penalty = 0;
  CHECK(Sampler::create(o).status().code() == StatusCode::invalid_argument);
  CHECK(make(SamplerOptions{}).sample(std::vector<float>{}, {}, 0).status().code() == StatusCode::invalid_argument);
}
