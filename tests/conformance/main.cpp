// ossrt-conformance: runs conformance suites on case files given as arguments
// and ends with the line "N passed, M failed".
//
//   ossrt-conformance golden --model DIR [--golden FILE] [--run fp32] [--mode exact|fast] [--backend NAME]
//   ossrt-conformance tokenizer --vectors FILE [--vectors FILE ...]
//   ossrt-conformance harmony [--render FILE]... [--parse FILE]... [--raw FILE|DIR]...
#include <cstdio>
#include <cstring>
#include <string>

#include "report.h"
#include "suites.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: ossrt-conformance golden --model DIR [--golden FILE] [--run NAME] [--mode exact|fast] "
                 "[--backend NAME]\n"
                 "  golden: compares logits, top-5 ids and greedy tokens with golden.json (schema gpt-oss-golden/1)\n"
                 "usage: ossrt-conformance tokenizer --vectors FILE [--vectors FILE ...]\n"
                 "  tokenizer: encodes and decodes every o200k_harmony vector of a JSONL file\n"
                 "usage: ossrt-conformance harmony [--render FILE]... [--parse FILE]... [--raw FILE|DIR]...\n"
                 "  harmony: renders and parses every case of harmony case files and harmony test-data files\n");
    return 2;
  }
  conformance::Report report;
  const std::string suite = argv[1];
  int status = 2;
  if (suite == "golden") {
    status = conformance::run_golden(argc - 2, argv + 2, report);
  } else if (suite == "tokenizer") {
    status = conformance::run_tokenizer(argc - 2, argv + 2, report);
  } else if (suite == "harmony") {
    status = conformance::run_harmony(argc - 2, argv + 2, report);
  } else {
    std::fprintf(stderr, "ossrt-conformance: unknown suite '%s'\n", argv[1]);
  }
  std::printf("%d passed, %d failed\n", report.passed, report.failed);
  if (status != 0) return status;
  return report.failed == 0 ? 0 : 1;
}
