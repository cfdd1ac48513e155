#pragma once

#include "report.h"

namespace conformance {

// Returns 0 when the suite ran (its checks are in the report), 2 on usage or
// input errors (reported on stderr and as one failed check).
int run_golden(int argc, char** argv, Report& report);
int run_tokenizer(int argc, char** argv, Report& report);
int run_harmony(int argc, char** argv, Report& report);

}  // namespace conformance
