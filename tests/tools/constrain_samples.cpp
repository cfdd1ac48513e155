// Writes constrained random walks for the ajv check: for every schema of the
// corpus, N outputs (argmax over random logits and temperature-1.5 sampling
// alternately) as one JSON line {"schema": <schema>, "outputs": [<text>...]}.
//
//   ossrt-constrain-samples SCHEMAS.jsonl OUT.jsonl [N]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "constrain/token_mask.h"
#include "constrain_walk.hpp"
#include "ossrt/json.hpp"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: ossrt-constrain-samples SCHEMAS.jsonl OUT.jsonl [N]\n");
    return 2;
  }
  const int per_schema = argc > 3 ? std::atoi(argv[3]) : 8;
  auto vocab = ossrt::constrain::TokenVocabulary::o200k_harmony();
  if (!vocab.ok()) {
    std::fprintf(stderr, "%s\n", vocab.status().to_string().c_str());
    return 1;
  }
  std::ifstream in(argv[1]);
  std::ofstream out(argv[2]);
  std::mt19937_64 rng(4242);
  size_t written = 0, incomplete = 0;
  for (std::string schema; std::getline(in, schema);) {
    if (schema.empty()) continue;
    auto grammar = ossrt::constrain::Grammar::from_json_schema(schema);
    if (!grammar.ok()) {
      std::fprintf(stderr, "%s: %s\n", schema.c_str(), grammar.status().to_string().c_str());
      return 1;
    }
    std::string line = "{\"schema\":" + schema + ",\"outputs\":[";
    bool first = true;
    for (int i = 0; i < per_schema; ++i) {
      ossrt::constrain::TokenMatcher matcher(vocab.value(), grammar.value());
      auto walk = ossrt::test::random_constrained_walk(matcher, *vocab.value(), rng, i % 2 == 1, 30, 300);
      if (walk.dead_end) {
        std::fprintf(stderr, "dead end after %s\n", walk.text.c_str());
        return 1;
      }
      if (!walk.complete) {
        ++incomplete;
        continue;
      }
      if (!first) line += ',';
      first = false;
      ossrt::append_json_string(line, walk.text);
      ++written;
    }
    out << line << "]}\n";
  }
  std::printf("%zu outputs written, %zu walks did not finish\n", written, incomplete);
  return written > 0 ? 0 : 1;
}
