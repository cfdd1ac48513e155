// The AVX-512 kernels on SIMDe's portable intrinsics, in namespace
// ossrt::cpu_avx512_emulated: test_cpu_kernels.cpp checks them against the
// reference on any CPU (see backend/cpu/simd_avx512.h).
#define OSSRT_CPU_EMULATE_AVX512 1
#include "backend/cpu/kernels_avx512.cpp"
