// Pass/fail tally of a conformance run; one printed line per check.
#pragma once

#include <cstdarg>
#include <cstdio>

namespace conformance {

struct Report {
  int passed = 0;
  int failed = 0;

  // Prints "PASS <text>" or "FAIL <text>" and counts it.
  __attribute__((format(printf, 3, 4))) void check(bool ok, const char* fmt, ...) {
    std::printf("%s ", ok ? "PASS" : "FAIL");
    va_list args;
    va_start(args, fmt);
    std::vprintf(fmt, args);
    va_end(args);
    std::printf("\n");
    ++(ok ? passed : failed);
  }
};

}  // namespace conformance
