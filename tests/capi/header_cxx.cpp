// The C header must also compile cleanly as C++.
#include "ossrt.h"

static_assert(OSSRT_ABI_VERSION >= 1);
