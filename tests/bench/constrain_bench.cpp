// The JSON-schema constraint engine's cost on the o200k_harmony vocabulary
// (201,088 ids): schema compile time, and the time to compute the allowed-
// token mask per generated token along seeded random walks (a benchmark,
// not a test). Cold: the first walk of a process (mask-cache entries are
// built on first use); warm: later walks.
//
//   ossrt-bench-constrain [--walks N] [--json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "constrain/token_mask.h"
#include "constrain_walk.hpp"

namespace {

using namespace ossrt::constrain;
using Clock = std::chrono::steady_clock;

double micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

struct Case {
  const char* name;
  std::string schema;
};

std::string hundred_properties() {
  std::string s = R"({"type":"object","properties":{)";
  const char* types[] = {R"({"type":"string"})", R"({"type":"integer","minimum":0,"maximum":1000})",
                         R"({"type":"boolean"})", R"({"enum":["a","b","c"]})",
                         R"({"type":"array","items":{"type":"number"}})"};
  std::string required;
  for (int i = 0; i < 100; ++i) {
    if (i) s += ',';
    s += "\"field_" + std::to_string(i) + "\":" + types[i % 5];
    if (i % 3 == 0) required += std::string(required.empty() ? "" : ",") + "\"field_" + std::to_string(i) + "\"";
  }
  return s + "},\"required\":[" + required + "],\"additionalProperties\":false}";
}

std::vector<Case> cases() {
  return {
      {"tool-args", R"({"type":"object","properties":{"location":{"type":"string"},"unit":{"enum":["celsius",
        "fahrenheit"]},"days":{"type":"integer","minimum":1,"maximum":14}},"required":["location"],
        "additionalProperties":false})"},
      {"person", R"({"type":"object","properties":{"name":{"type":"string","maxLength":40},"age":{"type":"integer",
        "minimum":0,"maximum":150},"email":{"type":"string","format":"email"},"tags":{"type":"array","items":
        {"type":"string"},"maxItems":5}},"required":["name","age"]})"},
      {"recursive", R"({"$defs":{"n":{"type":"object","properties":{"v":{"type":"number"},"kids":{"type":"array",
        "maxItems":3,"items":{"$ref":"#/$defs/n"}}},"required":["v"]}},"$ref":"#/$defs/n"})"},
      {"any-json", "{}"},
      {"100-properties", hundred_properties()},
  };
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5))];
}

}  // namespace

int main(int argc, char** argv) {
  int walks = 20;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--json")) {
      json = true;
    } else if (!std::strcmp(argv[i], "--walks") && i + 1 < argc) {
      walks = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: ossrt-bench-constrain [--walks N] [--json]\n");
      return 2;
    }
  }
  const auto t0 = Clock::now();
  auto vocab = TokenVocabulary::o200k_harmony();
  if (!vocab.ok()) {
    std::fprintf(stderr, "%s\n", vocab.status().to_string().c_str());
    return 1;
  }
  const double vocab_ms = micros(Clock::now() - t0) / 1000;
  if (!json) {
    std::printf("vocabulary trie: %zu nodes, built in %.1f ms\n", vocab.value()->trie().size(), vocab_ms);
    std::printf("%-16s %10s %8s %10s %10s %10s %10s %8s\n", "schema", "compile ms", "tokens", "median us", "p99 us",
                "max us", "cold us", "hits %");
  } else {
    std::printf("{\"vocab_nodes\":%zu,\"vocab_build_ms\":%.3f,\"cases\":[", vocab.value()->trie().size(), vocab_ms);
  }
  bool first = true;
  for (const Case& c : cases()) {
    const auto c0 = Clock::now();
    auto grammar = Grammar::from_json_schema(c.schema);
    const double compile_ms = micros(Clock::now() - c0) / 1000;
    if (!grammar.ok()) {
      std::fprintf(stderr, "%s: %s\n", c.name, grammar.status().to_string().c_str());
      return 1;
    }
    std::vector<double> warm;
    double cold_total = 0;
    size_t fills = 0, hits = 0;
    std::mt19937_64 rng(7);
    ossrt::constrain::TokenMask mask(vocab.value()->vocab_size());
    for (int w = 0; w < walks + 1; ++w) {
      TokenMatcher matcher(vocab.value(), grammar.value());
      auto walk = ossrt::test::random_constrained_walk(matcher, *vocab.value(), rng, w % 2 == 1, 40, 200);
      // Replay the walk, timing each mask on its own.
      TokenMatcher timed(vocab.value(), grammar.value());
      for (size_t i = 0; i <= walk.tokens.size(); ++i) {
        const auto s = Clock::now();
        timed.fill_mask(mask);
        const double us = micros(Clock::now() - s);
        if (w == 0)
          cold_total += us;
        else
          warm.push_back(us);
        if (i < walk.tokens.size()) timed.accept_token(walk.tokens[i]);
      }
      if (w > 0) {
        fills += timed.stats().fills;
        hits += timed.stats().cache_hits;
      }
    }
    const double hit_pct = fills ? 100.0 * static_cast<double>(hits) / static_cast<double>(fills) : 0;
    if (!json) {
      std::printf("%-16s %10.2f %8zu %10.1f %10.1f %10.1f %10.0f %8.1f\n", c.name, compile_ms, warm.size(),
                  percentile(warm, 0.5), percentile(warm, 0.99), percentile(warm, 1.0), cold_total, hit_pct);
    } else {
      std::printf(
          "%s{\"schema\":\"%s\",\"compile_ms\":%.3f,\"tokens\":%zu,\"median_us\":%.2f,\"p99_us\":%.2f,"
          "\"max_us\":%.2f,\"cold_walk_us\":%.1f,\"cache_hit_pct\":%.1f}",
          first ? "" : ",", c.name, compile_ms, warm.size(), percentile(warm, 0.5), percentile(warm, 0.99),
          percentile(warm, 1.0), cold_total, hit_pct);
    }
    first = false;
  }
  if (json) std::printf("]}\n");
  return 0;
}
