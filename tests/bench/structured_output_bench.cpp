// What structured output adds per generated token in a chat: the time of
// HarmonyScope::masked (the allowed-token mask over the 201,088-id
// vocabulary plus the masked copy of the logits the sampler reads), measured
// inside final answers sampled at temperature 1.5 from random logits, next
// to the sampler's own time per token (a benchmark, not a test). The mask
// cache is process-wide and kept: the first answer of a schema builds its
// entries (a walk of the vocabulary per new string or pattern state), so it
// is reported apart ("first answer"); the percentiles are the later answers'.
//
//   ossrt-bench-structured [--answers N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "constrain/compiled_cache.h"
#include "constrain/harmony_scope.h"
#include "ossrt/sampler.hpp"

namespace {

using namespace ossrt;
using Clock = std::chrono::steady_clock;

double micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<size_t>(p * static_cast<double>(values.size())))];
}

const char* const kSchemas[][2] = {
    {"tool-args",
     R"({"type":"object","properties":{"location":{"type":"string","maxLength":40},"unit":{"enum":["celsius",)"
     R"("fahrenheit"]},"days":{"type":"integer","minimum":1,"maximum":14}},"required":["location","unit","days"]})"},
    {"person",
     R"({"type":"object","properties":{"name":{"type":"string","maxLength":30},"age":{"type":"integer","minimum":0,)"
     R"("maximum":150},"email":{"type":"string","format":"email","maxLength":40},"tags":{"type":"array","items":{"type":"string",)"
     R"("maxLength":12},"maxItems":5}},"required":["name","age","email"]})"},
    {"events", R"({"type":"array","items":{"type":"object","properties":{"id":{"type":"string","format":"uuid"},)"
               R"("date":{"type":"string","format":"date"},"ok":{"type":"boolean"}},"required":["id","date","ok"]},)"
               R"("minItems":1,"maxItems":3})"},
};

}  // namespace

int main(int argc, char** argv) {
  size_t answers = 20;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], "--answers") == 0) answers = std::strtoull(argv[i + 1], nullptr, 10);
  auto tokenizer = Tokenizer::o200k_harmony().value();
  auto vocabulary = constrain::cached_vocabulary(tokenizer).value();
  const auto header = tokenizer->encode("<|channel|>final<|message|>", AllowedSpecials::all()).value();
  const TokenId return_id = tokenizer->special_id(SpecialToken::return_);
  std::printf("%-10s %8s %9s %9s %9s %11s %13s\n", "schema", "tokens", "mask med", "mask p99", "mask max", "sample med",
              "first answer");
  for (const auto& [name, schema] : kSchemas) {
    auto grammar = constrain::cached_grammar(schema);
    if (!grammar.ok()) {
      std::fprintf(stderr, "%s: %s\n", name, grammar.status().to_string().c_str());
      return 1;
    }
    std::vector<double> mask_us, sample_us;
    double first_answer_max = 0;
    for (size_t run = 0; run < answers; ++run) {
      constrain::ScopeGrammars grammars;
      grammars.response_format = grammar.value();
      harmony::StreamParser parser(tokenizer, harmony::Role::assistant);
      constrain::HarmonyScope scope(vocabulary, grammars, return_id, tokenizer->special_id(SpecialToken::call));
      std::vector<harmony::ParseEvent> events;
      auto push = [&](TokenId token) {
        events.clear();
        (void)parser.push(token, &events);
        scope.observe(token, parser.state(), events);
      };
      for (TokenId token : header) push(token);
      SamplerOptions options;
      options.temperature = 1.5f;
      options.seed = run;
      const Sampler sampler = Sampler::create(options).value();
      std::mt19937_64 rng(run);
      std::normal_distribution<float> noise(0.0f, 3.0f);
      std::vector<float> logits(tokenizer->vocab_size());
      for (float& logit : logits) logit = noise(rng);
      std::vector<TokenId> history;
      for (size_t step = 0; step < 4000 && scope.constrained(); ++step) {
        const auto t0 = Clock::now();
        auto masked = scope.masked(logits);
        const auto t1 = Clock::now();
        auto next = sampler.sample(masked, history, step);
        const auto t2 = Clock::now();
        if (!next.ok()) return 1;
        if (run == 0)
          first_answer_max = std::max(first_answer_max, micros(t1 - t0));
        else
          mask_us.push_back(micros(t1 - t0));
        sample_us.push_back(micros(t2 - t1));
        history.push_back(next.value());
        push(next.value());
      }
    }
    std::printf("%-10s %8zu %7.1fus %7.1fus %7.1fus %9.1fus %9.1fus max\n", name, mask_us.size(),
                percentile(mask_us, 0.5), percentile(mask_us, 0.99), percentile(mask_us, 1.0),
                percentile(sample_us, 0.5), first_answer_max);
  }
  return 0;
}
