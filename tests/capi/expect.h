/* The check macro of the C ABI test programs: counts passes and failures and
 * names the failed condition with the library's last error message. */
#ifndef OSSRT_TESTS_CAPI_EXPECT_H
#define OSSRT_TESTS_CAPI_EXPECT_H

#include <stdio.h>

#include "ossrt.h"

static int passes = 0, failures = 0;

#define EXPECT(cond)                                                           \
  do {                                                                         \
    if (cond) {                                                                \
      ++passes;                                                                \
    } else {                                                                   \
      ++failures;                                                              \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      fprintf(stderr, "  last error: %s\n", ossrt_last_error_message());       \
    }                                                                          \
  } while (0)

#endif
