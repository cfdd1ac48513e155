// The AVX-512 kernels on SIMDe's portable intrinsics, in namespace
// ossrt::cpu_avx512_emulated: test_cpu_kernels.cpp checks them against the
// reference on any CPU (see backend/cpu/simd_avx512.h); and the MoE and
// matmul kernels with stand-in bf16 products (*_with_scalar_bf16_products).
#define OSSRT_CPU_EMULATE_AVX512 1
#include "backend/cpu/kernels_avx512.cpp"

#include <deque>
#include <mutex>

namespace ossrt::cpu_avx512_emulated {

namespace {

// Bf16Matmul's interface, products computed by bf16_products_scalar.
template <bool kFails>
class ScalarBf16Products {
 public:
  static const ScalarBf16Products* get(size_t m, size_t n, size_t k, size_t ldc) noexcept {
    static std::mutex mutex;
    static std::deque<ScalarBf16Products> made;
    std::lock_guard<std::mutex> lock(mutex);
    return &made.emplace_back(ScalarBf16Products{m, n, k, ldc});
  }
  size_t scratch_bytes() const noexcept { return 0; }
  bool run(const bf16_t* a, const bf16_t* b, float* c, void*) const noexcept {
    if (kFails) return false;
    bf16_products_scalar(a, b, m_, n_, k_, c, ldc_);
    return true;
  }

  size_t m_, n_, k_, ldc_;
};

}  // namespace

void moe_with_scalar_bf16_products(const MoeArgs& args, bool fail) {
  if (fail) return moe_mxfp4_with<ScalarBf16Products<true>>(args);
  moe_mxfp4_with<ScalarBf16Products<false>>(args);
}

void matmul_with_scalar_bf16_products(const MatmulArgs& args, bool fail) {
  if (fail) return matmul_with<ScalarBf16Products<true>>(args);
  matmul_with<ScalarBf16Products<false>>(args);
}

}  // namespace ossrt::cpu_avx512_emulated
