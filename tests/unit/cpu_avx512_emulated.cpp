// The AVX-512 kernels on SIMDe's portable intrinsics, in namespace
// ossrt::cpu_avx512_emulated: test_cpu_kernels.cpp checks them against the
// reference on any CPU (see backend/cpu/simd_avx512.h); and the MoE and
// matmul kernels with stand-in bf16 products (*_with_scalar_bf16_products),
// the integer prefill tiles over any row range (q15_rows_times_vectors), and
// either of the 512-bit Q15 products (set_q15_vnni), and the Q8 products or
// not (set_q8_products).
#define OSSRT_CPU_EMULATE_AVX512 1
#include "backend/cpu/kernels_avx512.cpp"

#include <atomic>
#include <deque>
#include <mutex>

namespace ossrt::cpu_avx512_emulated {

namespace {
std::atomic<bool> q15_vnni_products{true};
std::atomic<bool> q8_products{true};
}  // namespace

bool q15_vnni() noexcept {
  return q15_vnni_products.load(std::memory_order_relaxed);
}
void set_q15_vnni(bool vnni) noexcept {
  q15_vnni_products.store(vnni, std::memory_order_relaxed);
}
bool mxfp4_q8_products() noexcept {
  return q8_products.load(std::memory_order_relaxed);
}
void set_q8_products(bool on) noexcept {
  q8_products.store(on, std::memory_order_relaxed);
}
// AVX512-BF16's vdpbf16ps emulated (bf16_dot_zmm.h).
bool bf16_dot() noexcept {
  return true;
}

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

// out[t * last + r] = row r of the MXFP4 matrix (rows of `in` elements) times
// input t quantized to Q15, for rows [first, last), through the integer tiles
// of mxfp4_q15_gemm.h, whose row ranges the MoE only gives in whole tiles.
void q15_rows_times_vectors(const uint8_t* blocks, const uint8_t* scales, size_t first, size_t last, size_t in,
                            const std::vector<std::vector<float>>& inputs, float* out) {
  Q15Vectors vectors(inputs.size(), in, true);
  for (size_t t = 0; t < inputs.size(); ++t) {
    vectors.quantize(
        t, inputs[t].data(), [](size_t j) { return j; }, nullptr);
  }
  std::vector<int32_t> pairs(q15_tile_pairs(in));
  std::vector<float> powers(q15_tile_powers(in));
  mxfp4_q15_rows_times_vectors(
      blocks, scales, first, last, in, inputs.size(), [&](size_t t) { return vectors.vector(t); }, pairs.data(),
      powers.data(), [&](size_t t, size_t r, float sum) { out[t * last + r] = sum; });
}

// out[t * last + r] = row r of the MXFP4 matrix times input t as `terms`
// bf16 terms (1: rounded to bf16; 3: exactly), for rows [first, last) and 1
// to 4 inputs, through the small groups' bf16 products (mxfp4_bf16.h).
void bf16_rows_times_vectors(const uint8_t* blocks, const uint8_t* scales, size_t first, size_t last, size_t in,
                             size_t terms, const std::vector<std::vector<float>>& inputs, float* out) {
  Mxfp4Bf16Vectors vectors(inputs.size(), in, terms);
  std::vector<const bf16_t*> x(inputs.size());
  for (size_t t = 0; t < inputs.size(); ++t) {
    vectors.pack(t, inputs[t].data(), [](size_t j) { return j; });
    x[t] = vectors.vector(t);
  }
  mxfp4_bf16_rows(blocks, scales, in / kMxfp4BlockElements, first, last, x.data(), inputs.size(), terms,
                  [&](size_t r, const float* sums) {
                    for (size_t t = 0; t < inputs.size(); ++t) out[t * last + r] = sums[t];
                  });
}

void q8_rows_times_vectors(const uint8_t* blocks, const uint8_t* scales, size_t first, size_t last, size_t in,
                           size_t digits, const std::vector<std::vector<float>>& inputs, float* out,
                           size_t tiled_rows) {
  Q8Vectors vectors(inputs.size(), in, digits);
  std::vector<Q8Vector> x(inputs.size());
  for (size_t t = 0; t < inputs.size(); ++t) {
    vectors.quantize(t, inputs[t].data(), [](size_t j) { return j; });
    x[t] = vectors.vector(t);
  }
  const auto output = [&](size_t r, const float* sums) {
    for (size_t t = 0; t < inputs.size(); ++t) out[t * last + r] = sums[t];
  };
  const size_t count = in / kMxfp4BlockElements;
  if (tiled_rows == 0) return mxfp4_q8_rows(blocks, scales, count, first, last, x.data(), inputs.size(), output);
  mxfp4_q8_tiles(blocks, scales, count, tiled_rows, first, last, x.data(), inputs.size(), output);
}

void untile_rows(const uint8_t* blocks, const uint8_t* scales, size_t rows, size_t count, size_t first, size_t last,
                 uint8_t* out_blocks, uint8_t* out_scales) {
  mxfp4_untile_rows(blocks, scales, rows, count, first, last, out_blocks, out_scales);
}

// An MXFP4 row (in elements) as bf16 in decode order, decoded directly
// (widen_mxfp4_row_bf16) and through fp32 (widen_mxfp4_row, round_to_bf16).
void mxfp4_row_to_bf16(const uint8_t* blocks, const uint8_t* scales, size_t in, bf16_t* direct, bf16_t* via_f32) {
  std::vector<float> row(in);
  widen_mxfp4_row_bf16(blocks, scales, in, row.data(), direct);
  widen_mxfp4_row(blocks, scales, in, row.data());
  round_to_bf16(row.data(), in, via_f32);
}

}  // namespace ossrt::cpu_avx512_emulated
