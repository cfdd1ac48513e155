#pragma once

#include <cstddef>

#include "report.h"

namespace conformance {

// Index of the first element where two sequences (ids, bytes, text) differ.
template <class A, class B>
size_t first_difference(const A& a, const B& b) {
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}

// Returns 0 when the suite ran (its checks are in the report), 2 on usage or
// input errors (reported on stderr and as one failed check).
int run_golden(int argc, char** argv, Report& report);
int run_tokenizer(int argc, char** argv, Report& report);
int run_harmony(int argc, char** argv, Report& report);

}  // namespace conformance
