// Opens the region of a kernel file that is compiled for AVX-512 (F, BW, VL,
// with AVX2, FMA and F16C); avx512_target_end.h closes it. The same rules as
// for avx2_target_begin.h apply: every shared header first. No include guard.
#include <immintrin.h>

// GCC 12's AVX-512 intrinsics start from _mm512_undefined_*(), which its
// -W(maybe-)uninitialized reports at every use (GCC bug 105593, fixed in 13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define OSSRT_AVX512_TARGET_REGION 1
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")
#endif
