// Sampler chain: arg-max and ties, determinism, each filter, penalties, bias,
// the distribution it draws from; the candidates, probabilities and draws of
// the earlier full-sorting sampler (the oracle) on random rows of every
// shape; the bucketed chain's hand-over at rounding boundaries, its weights'
// error bound, infinite and NaN logits, and sharing one sampler by threads.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "ossrt/sampler.hpp"
#include "sampling/block_draw.h"
#include "sampling/bucketed_chain.h"
#include "sampling/candidate_select.h"
#include "sampling/draw.h"
#include "sampling/exact_chain.h"
#include "sampling/sampler_chain.h"
#include "sampling/sampling_order.h"
#include "sampling/scaled_logits.h"
#include "sampling/vocabulary_passes.h"

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

// The sampler as it was before selection became linear in the vocabulary
// (sorting a growing prefix of the candidates), kept as the oracle: the chain
// must keep its candidate sets, probabilities and draws wherever it was
// well-defined (no NaN, a finite top scaled logit).
struct OracleDraws {
  std::vector<KeptCandidate> kept;  // what the draw chose among, in the order it walked them
  std::vector<TokenId> tokens;      // one per position
};

OracleDraws oracle(const SamplerOptions& o, std::span<const float> logits, std::span<const TokenId> history,
                   std::span<const uint64_t> positions) {
  struct Candidate {
    TokenId id;
    float logit;
  };
  const auto before = [](const Candidate& a, const Candidate& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
  };
  const size_t vocab = logits.size();
  std::vector<Candidate> c(vocab);
  for (size_t i = 0; i < vocab; ++i) c[i] = Candidate{static_cast<TokenId>(i), logits[i]};
  for (const auto& [id, bias] : o.logit_bias) c[static_cast<size_t>(id)].logit += bias;
  const bool penalties = o.repetition_penalty != 1.0f || o.presence_penalty != 0.0f || o.frequency_penalty != 0.0f;
  if (penalties && !history.empty()) {
    const size_t window = o.penalty_last_n == 0 ? history.size() : std::min(o.penalty_last_n, history.size());
    std::unordered_map<TokenId, int> counts;
    for (TokenId id : history.last(window)) {
      if (id >= 0 && static_cast<size_t>(id) < vocab) ++counts[id];
    }
    for (const auto& [id, count] : counts) {
      float& l = c[static_cast<size_t>(id)].logit;
      l = l > 0 ? l / o.repetition_penalty : l * o.repetition_penalty;
      l -= o.presence_penalty + o.frequency_penalty * static_cast<float>(count);
    }
  }
  OracleDraws out;
  if (o.temperature == 0.0f) {
    const TokenId top = std::min_element(c.begin(), c.end(), before)->id;
    out.kept = {{top, 1.0}};
    out.tokens.assign(positions.size(), top);
    return out;
  }
  for (Candidate& x : c) x.logit /= o.temperature;
  const float top = std::min_element(c.begin(), c.end(), before)->logit;
  size_t keep = vocab, sorted = 0;
  auto sort_prefix = [&](size_t n) {
    n = std::min(n, keep);
    if (n <= sorted) return;
    std::partial_sort(c.begin(), c.begin() + static_cast<std::ptrdiff_t>(n),
                      c.begin() + static_cast<std::ptrdiff_t>(keep), before);
    sorted = n;
  };
  if (o.top_k > 0) {
    sort_prefix(o.top_k);
    keep = sorted;
  }
  if (o.top_p < 1.0f || o.min_p > 0.0f) {
    double total = 0;
    for (size_t i = 0; i < keep; ++i) total += std::exp(static_cast<double>(c[i].logit - top));
    double mass = 0;
    for (size_t i = 0; i < keep; ++i) {
      if (i == sorted) sort_prefix(std::max<size_t>(256, 4 * sorted));
      const double relative = std::exp(static_cast<double>(c[i].logit - top));
      if (relative < static_cast<double>(o.min_p)) {
        keep = std::max<size_t>(i, 1);
        break;
      }
      mass += relative / total;
      if (o.top_p < 1.0f && mass >= static_cast<double>(o.top_p)) {
        keep = i + 1;
        break;
      }
    }
  }
  double kept_total = 0;
  for (size_t i = 0; i < keep; ++i) kept_total += std::exp(static_cast<double>(c[i].logit - top));
  for (size_t i = 0; i < keep; ++i) {
    out.kept.push_back({c[i].id, std::exp(static_cast<double>(c[i].logit - top)) / kept_total});
  }
  for (uint64_t position : positions) {
    const double target = sampling_uniform(o.seed, position) * kept_total;
    double running = 0;
    TokenId token = c[keep - 1].id;
    for (size_t i = 0; i < keep; ++i) {
      running += std::exp(static_cast<double>(c[i].logit - top));
      if (running > target) {
        token = c[i].id;
        break;
      }
    }
    out.tokens.push_back(token);
  }
  return out;
}

// Logit rows of the shapes a model produces, and the awkward ones.
enum class Shape { flat, peaked, typical, ties, masked, wide, equal };
constexpr Shape kShapes[] = {Shape::flat,   Shape::peaked, Shape::typical, Shape::ties,
                             Shape::masked, Shape::wide,   Shape::equal};

std::vector<float> make_logits(Shape shape, size_t n, std::mt19937& rng) {
  std::vector<float> l(n);
  std::normal_distribution<float> normal(0, 1);
  switch (shape) {
    case Shape::flat:  // near-uniform: the case that used to sort the whole vocabulary
      for (float& x : l) x = 0.01f * normal(rng);
      break;
    case Shape::peaked:  // one dominant token
      for (float& x : l) x = normal(rng);
      l[rng() % n] += 15;
      break;
    case Shape::typical:
    case Shape::masked: {  // Zipf-like ranks with noise; masked: a third of the ids at -inf
      std::vector<size_t> rank(n);
      std::iota(rank.begin(), rank.end(), size_t{1});
      std::shuffle(rank.begin(), rank.end(), rng);
      for (size_t i = 0; i < n; ++i) l[i] = 12.0f - 1.2f * std::log(static_cast<float>(rank[i])) + 0.3f * normal(rng);
      if (shape == Shape::masked) {
        for (size_t i = 0; i < n; ++i) {
          if (rng() % 3 == 0 && rank[i] != 1) l[i] = -std::numeric_limits<float>::infinity();
        }
      }
      break;
    }
    case Shape::ties:  // five values: long runs of equal logits, -0 and +0 among them
      for (float& x : l) x = std::array<float, 5>{-1.0f, -0.0f, 0.0f, 0.5f, 2.0f}[rng() % 5];
      break;
    case Shape::wide:  // most weights underflow
      for (float& x : l) x = 40 * normal(rng);
      break;
    case Shape::equal:
      std::fill(l.begin(), l.end(), 0.25f);
      break;
  }
  return l;
}

SamplerOptions random_options(size_t vocab, std::mt19937& rng) {
  const auto pick = [&](auto... values) {
    const std::array<std::common_type_t<decltype(values)...>, sizeof...(values)> a{values...};
    return a[rng() % a.size()];
  };
  SamplerOptions o;
  o.temperature = pick(1.0f, 1.0f, 0.7f, 1.5f, 1e-3f, 0.05f, 1e3f, 0.0f);
  o.top_k = pick(size_t{0}, size_t{0}, size_t{1}, size_t{2}, size_t{40}, size_t{1500}, vocab - 1, vocab, vocab + 7);
  o.top_p = pick(1.0f, 1.0f, 0.9f, 0.5f, 0.95f, 1e-6f, 0.999999f, std::nextafter(1.0f, 0.0f));
  o.min_p = pick(0.0f, 0.0f, 0.05f, 0.5f, 1.0f, 1e-9f, 0.2f);
  o.seed = rng();
  return o;
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

namespace {

// Checks the sampler against the oracle on one row: the kept candidates in
// the order the draw walks them (by id where nothing sorts them: every token,
// in id order), their probabilities, and the token at each of `draws`
// positions.
void expect_oracle(const SamplerOptions& o, const std::vector<float>& logits, const std::vector<TokenId>& history,
                   uint64_t draws) {
  std::vector<uint64_t> positions(draws);
  std::iota(positions.begin(), positions.end(), uint64_t{0});
  OracleDraws want = oracle(o, logits, history, positions);
  std::vector<KeptCandidate> kept;
  auto token = run_sampler_chain(o, logits, history, 0, &kept);
  REQUIRE_MESSAGE(token.ok(), token.status().to_string());
  CHECK(token.value() == want.tokens[0]);
  if (o.temperature != 0 && o.top_k == 0 && o.top_p == 1.0f && o.min_p == 0.0f) {
    const auto by_id = [](const auto& a, const auto& b) { return a.id < b.id; };
    std::sort(want.kept.begin(), want.kept.end(), by_id);
    std::sort(kept.begin(), kept.end(), by_id);
  }
  REQUIRE(kept.size() == want.kept.size());
  size_t mismatched = 0;
  for (size_t i = 0; i < kept.size(); ++i) {
    const double p = kept[i].probability, q = want.kept[i].probability;
    mismatched += kept[i].id != want.kept[i].id || !(std::fabs(p - q) <= 1e-12 * std::max(p, q));
  }
  CHECK(mismatched == 0);
  const Sampler s = make(o);
  for (uint64_t pos : positions) {
    CAPTURE(pos);
    CHECK(draw(s, logits, pos, history) == want.tokens[pos]);
  }
}

void expect_oracle_on_random_rows(size_t vocab, int rows, uint64_t draws, uint32_t seed) {
  std::mt19937 rng(seed);
  for (int row = 0; row < rows; ++row) {
    const Shape shape = kShapes[static_cast<size_t>(row) % std::size(kShapes)];
    const std::vector<float> logits = make_logits(shape, vocab, rng);
    SamplerOptions o = random_options(vocab, rng);
    std::vector<TokenId> history;
    if (rng() % 3 == 0) {
      o.repetition_penalty = 1.3f;
      o.presence_penalty = 0.5f;
      for (int i = 0; i < 8; ++i) history.push_back(static_cast<TokenId>(rng() % vocab));
    }
    if (rng() % 4 == 0) o.logit_bias = {{static_cast<TokenId>(rng() % vocab), rng() % 2 ? 20.0f : -5.0f}};
    CAPTURE(vocab);
    CAPTURE(row);
    CAPTURE(static_cast<int>(shape));
    CAPTURE(o.temperature);
    CAPTURE(o.top_k);
    CAPTURE(o.top_p);
    CAPTURE(o.min_p);
    expect_oracle(o, logits, history, draws);
  }
}

}  // namespace

TEST_CASE("random rows of every shape, small and mid-sized vocabularies: the oracle's candidates and draws") {
  for (size_t vocab : {1, 2, 3, 7, 64, 1000, 1024, 1025, 3000, 20000}) {
    expect_oracle_on_random_rows(vocab, vocab <= 3000 ? 60 : 21, 16, static_cast<uint32_t>(vocab));
  }
}

TEST_CASE("random rows of every shape at the full vocabulary: the oracle's candidates and draws") {
  expect_oracle_on_random_rows(201088, 28, 8, 201088);
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

namespace {

// A row prepared as sampler_chain.cpp prepares it for the bucketed chain.
struct PreparedRow {
  SamplerScratch scratch;
  ScaledLogits s;
  std::optional<LogitBuckets> buckets;

  PreparedRow(const SamplerOptions& o, const std::vector<float>& logits) {
    s = scale_logits(o, logits, {}, scratch.logits).value();
    buckets.emplace(s.top, s.lowest);
    scratch.buckets.resize(logits.size());
    compute_buckets(s.x, *buckets, scratch.buckets);
    scratch.weights.resize(logits.size());
    compute_weights(s.x, s.top, scratch.weights);
  }
};

std::vector<KeptCandidate> kept_by(const SamplerOptions& o, const std::vector<float>& logits) {
  std::vector<KeptCandidate> kept;
  auto token = run_sampler_chain(o, logits, {}, 0, &kept);
  REQUIRE_MESSAGE(token.ok(), token.status().to_string());
  return kept;
}

}  // namespace

TEST_CASE("a top-p share that lands exactly on a candidate is left to the one-by-one walk") {
  // 4096 equal weights: the shares add up exactly, and the 2048th reaches 0.5 exactly.
  const std::vector<float> logits(4096, 0.0f);
  SamplerOptions o;
  o.top_p = 0.5f;
  PreparedRow row(o, logits);
  const BucketedOutcome outcome =
      bucketed_chain(o, row.s, *row.buckets, CandidateSet{}, logits.size(), 0.3, row.scratch);
  CHECK_FALSE(outcome.kept.has_value());
  CHECK(kept_by(o, logits).size() == 2048);
  expect_oracle(o, logits, {}, 32);
}

TEST_CASE("a draw target that lands exactly on a running sum is left to the one-by-one walk") {
  const std::vector<float> logits(4096, 0.0f);
  SamplerOptions o;
  o.top_k = 4000;  // more than the sorted walk takes: the bucketed chain runs
  PreparedRow row(o, logits);
  const CandidateSet top = select_top_k(row.s, o.top_k, false, row.scratch);
  // u = 0.5: the target is 2000, the running weight through candidate 1999.
  BucketedOutcome outcome = bucketed_chain(o, row.s, *row.buckets, top, o.top_k, 0.5, row.scratch);
  REQUIRE(outcome.kept.has_value());
  CHECK(outcome.kept->end == top.end);
  CHECK_FALSE(outcome.token.has_value());
  std::vector<OrderKey> ordered, buffer;
  gather_in_order(row.s, outcome.kept->end, ordered, buffer);
  CHECK(ordered.size() == 4000);
  CHECK(ordered_draw(row.s, ordered, 0.5) == 2000);
  // Away from a boundary it decides: u = 0.3001, target 1200.4, candidate 1200.
  outcome = bucketed_chain(o, row.s, *row.buckets, top, o.top_k, 0.3001, row.scratch);
  CHECK(outcome.token == std::optional<TokenId>(1200));

  // The same in id order: 4096 weights of 1, target 2048.
  const std::vector<double> weights(4096, 1.0);
  std::vector<double> blocks;
  CHECK_FALSE(block_draw(weights, 0.5, blocks).has_value());
  CHECK(id_order_draw(row.s, 0.5, blocks) == 2048);
  CHECK(block_draw(weights, 0.3, blocks) == std::optional<TokenId>(1228));  // 1229 > 0.3 x 4096 = 1228.8
  expect_oracle(o, logits, {}, 64);
}

TEST_CASE("pass weights stay within kWeightPassError of e^(x - top)") {
  std::mt19937 rng(5);
  std::vector<float> d;
  for (int i = 0; i < 200000; ++i) {
    d.push_back(std::uniform_real_distribution<float>(-700, 0)(rng));
    d.push_back(std::uniform_real_distribution<float>(-1, 0)(rng));
    d.push_back(-std::ldexp(std::uniform_real_distribution<float>(1, 2)(rng), -(i % 150)));
  }
  for (float special : {0.0f, -0.0f, -700.0f, std::nextafter(-700.0f, 0.0f), -1e-45f, -0.5f * std::log(2.0f)}) {
    d.push_back(special);
  }
  std::vector<double> w(d.size());
  compute_weights(d, 0.0f, w);
  size_t outside = 0;
  for (size_t i = 0; i < d.size(); ++i) {
    const long double e = std::exp(static_cast<long double>(d[i]));
    outside += !(std::fabs(static_cast<long double>(w[i]) - e) <= kWeightPassError * e);
  }
  CHECK(outside == 0);
  // Below -700: at most kWeightPassFloor, never negative.
  const std::vector<float> deep = {-700.5f, -1e4f, -3e38f, -std::numeric_limits<float>::infinity()};
  std::vector<double> tiny(deep.size());
  compute_weights(deep, 0.0f, tiny);
  for (double t : tiny) CHECK((t >= 0 && t <= kWeightPassFloor));
  compute_weights(std::vector<float>{5.0f, 2.0f}, 5.0f, tiny);  // x - top: 0 and -3
  CHECK(tiny[0] == 1.0);
}

TEST_CASE("candidate keys sort into sampling order: higher logit first, lower id on ties") {
  std::mt19937 rng(9);
  for (size_t n : {0, 1, 2, 511, 512, 513, 5000, 70000}) {
    std::vector<OrderKey> keys, buffer;
    for (uint32_t id = 0; id < n; ++id) {
      const float x = rng() % 2 ? static_cast<float>(rng() % 7) - 3.0f  // ties, -0 among them
                                : std::normal_distribution<float>(0, 5)(rng);
      keys.push_back(order_key(rng() % 11 == 0 ? -0.0f : x, id));
    }
    std::vector<OrderKey> want = keys;
    std::sort(want.begin(), want.end());
    sort_in_sampling_order(keys, buffer);
    CAPTURE(n);
    CHECK(keys == want);
  }
  CHECK(order_key(2.0f, 9) < order_key(1.0f, 0));
  CHECK(order_key(-0.0f, 3) == (order_key(0.0f, 3)));
  CHECK(order_key(0.0f, 2) < order_key(-0.0f, 3));
  CHECK(order_key(-std::numeric_limits<float>::infinity(), 7) < kEveryCandidate);
}

TEST_CASE("NaN logits are refused, naming the token") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (float temperature : {0.0f, 1.0f}) {
    SamplerOptions o;
    o.temperature = temperature;
    auto token = make(o).sample(std::vector<float>{1.0f, nan, 2.0f}, {}, 0);
    CHECK(token.status().code() == StatusCode::invalid_argument);
    CHECK(token.status().message().find("token 1 is NaN") != std::string::npos);
  }
  SamplerOptions o;
  o.logit_bias = {{0, -std::numeric_limits<float>::infinity()}};  // +inf - inf
  auto token = make(o).sample(std::vector<float>{std::numeric_limits<float>::infinity(), 0.0f}, {}, 0);
  CHECK(token.status().code() == StatusCode::invalid_argument);
}

TEST_CASE("infinite logits: the tokens at an infinite top share the probability equally") {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  SamplerOptions o;
  const std::vector<float> two_infinite = {1.0f, kInf, 3.0f, kInf};
  std::vector<KeptCandidate> kept = kept_by(o, two_infinite);
  REQUIRE(kept.size() == 4);  // every token, in sampling order
  CHECK(kept[0].id == 1);
  CHECK(kept[1].id == 3);
  CHECK(kept[0].probability == 0.5);
  CHECK(kept[1].probability == 0.5);
  CHECK(kept[2].probability == 0.0);
  const std::vector<double> f = frequencies(make(o), two_infinite, 4000);
  CHECK(f[0] + f[2] == 0.0);
  CHECK(f[1] == doctest::Approx(0.5).epsilon(0.05));
  o.temperature = 0;
  CHECK(draw(make(o), two_infinite, 0) == 1);

  o = SamplerOptions{};
  o.top_p = 0.9f;
  kept = kept_by(o, std::vector<float>(4, -kInf));  // every token masked: all alike
  REQUIRE(kept.size() == 4);
  for (const KeptCandidate& k : kept) CHECK(k.probability == 0.25);

  o = SamplerOptions{};
  o.temperature = 2e-38f;  // 10 / 2e-38 overflows to inf, -5 / 2e-38 stays finite
  kept = kept_by(o, {10.0f, -5.0f, 10.0f});
  REQUIRE(kept.size() == 3);
  CHECK((kept[0].id == 0 && kept[1].id == 2 && kept[0].probability == 0.5 && kept[2].probability == 0.0));

  o = SamplerOptions{};
  o.logit_bias = {{2, kInf}};  // a bias of +inf forces a token
  const std::vector<double> forced = frequencies(make(o), {5.0f, 1.0f, -3.0f}, 500);
  CHECK(forced[0] + forced[1] == 0.0);
}

TEST_CASE("-0 and +0 tie: the lower id comes first") {
  SamplerOptions o;
  o.temperature = 0;
  CHECK(draw(make(o), {-1.0f, -0.0f, 0.0f}, 0) == 1);
  CHECK(draw(make(o), {-1.0f, 0.0f, -0.0f}, 0) == 1);
  o = SamplerOptions{};
  o.top_k = 2;
  const std::vector<KeptCandidate> kept = kept_by(o, {-1.0f, 0.0f, -0.0f, -2.0f});
  REQUIRE(kept.size() == 2);
  CHECK((kept[0].id == 1 && kept[1].id == 2));
}

TEST_CASE("one sampler shared by threads gives each thread the single-threaded tokens") {
  std::mt19937 rng(11);
  SamplerOptions o;
  o.top_p = 0.9f;
  o.min_p = 0.01f;
  o.seed = 77;
  const Sampler sampler = make(o);
  std::vector<std::vector<float>> rows;
  for (size_t vocab : {100, 5000, 201088}) {
    rows.push_back(make_logits(Shape::flat, vocab, rng));
    rows.push_back(make_logits(Shape::typical, vocab, rng));
  }
  constexpr uint64_t kPositions = 12;
  std::vector<TokenId> want;
  for (const auto& row : rows) {
    for (uint64_t pos = 0; pos < kPositions; ++pos) want.push_back(draw(sampler, row, pos));
  }
  std::vector<std::vector<TokenId>> got(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < got.size(); ++t) {
    threads.emplace_back([&, t] {
      for (size_t r = 0; r < rows.size(); ++r) {  // each thread in its own order of rows
        const auto& row = rows[(r + t) % rows.size()];
        for (uint64_t pos = 0; pos < kPositions; ++pos) {
          auto token = sampler.sample(row, {}, pos);
          got[t].push_back(token.ok() ? token.value() : -1);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (size_t t = 0; t < got.size(); ++t) {
    std::vector<TokenId> expected;
    for (size_t r = 0; r < rows.size(); ++r) {
      const size_t row = (r + t) % rows.size();
      expected.insert(expected.end(), want.begin() + static_cast<std::ptrdiff_t>(row * kPositions),
                      want.begin() + static_cast<std::ptrdiff_t>((row + 1) * kPositions));
    }
    CHECK(got[t] == expected);
  }
}
