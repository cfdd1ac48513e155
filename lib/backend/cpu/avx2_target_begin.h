// Opens the region of a kernel file that is compiled for AVX2 + FMA + F16C;
// avx2_target_end.h closes it. Kernel files are compiled with the baseline
// flags and include every shared header (standard library, util/, backend/)
// before this one, so inline and template code from those headers is compiled
// for the baseline in them too: the linker keeps one copy of such code for the
// whole library, and with -mavx2 on the command line that copy could be an
// AVX2 one that a pre-AVX2 CPU cannot run. The ctest isa.baseline-shared-code
// checks the objects. No include guard: it takes effect where it is included.
#include <immintrin.h>

#define OSSRT_AVX2_TARGET_REGION 1
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c")
#endif
