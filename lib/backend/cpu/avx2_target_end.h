// Closes the region opened by avx2_target_begin.h. No include guard.
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#undef OSSRT_AVX2_TARGET_REGION
