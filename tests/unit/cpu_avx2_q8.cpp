// The AVX2 level's Q8 expert products (backend/cpu/mxfp4_q8.h) called
// directly: through AVX-VNNI's vpdpbusd, and through vpmaddubsw and
// vpmaddwd (BytePairs: the level's Q24 products without AVX-VNNI, and here
// Q8 too), so that the loop's layout is checked on every AVX2 CPU.
// test_cpu_kernels.cpp checks both against exact lane sums. The headers' code lands in
// ossrt::cpu_avx2, as the level's kernel file has it; the shared headers
// come first, outside the AVX2 region (see avx2_target_begin.h).
#include "cpu_avx2_q8.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/mxfp4_tiles.h"
#include "util/aligned_vector.h"
#include "util/numeric.h"
#include "util/q15.h"
#include "util/q8.h"

#include "backend/cpu/avx2_target_begin.h"  // up to avx2_target_end.h: AVX2 code
#include "backend/cpu/simd_avx2.h"

#include "backend/cpu/kernel_util.h"
#include "backend/cpu/mxfp4_q15.h"
#include "backend/cpu/mxfp4_q8.h"

#include "backend/cpu/avx2_target_end.h"

namespace ossrt::cpu_avx2_test {

void q8_rows_times_vectors(const uint8_t* blocks, const uint8_t* scales, size_t first, size_t last, size_t in,
                           size_t digits, const std::vector<std::vector<float>>& inputs, float* out, bool vnni) {
  using namespace cpu_avx2;
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
  with_count<4>(inputs.size(), [&](auto vectors_now) {
    constexpr size_t kVectors = decltype(vectors_now)::value;
    if (vnni) {
      if (digits == 3) {
        return mxfp4_q8_ymm_detail::rows_avx_vnni<kVectors, 3>(blocks, scales, count, first, last, x.data(), output);
      }
      return mxfp4_q8_ymm_detail::rows_avx_vnni<kVectors, 1>(blocks, scales, count, first, last, x.data(), output);
    }
    if (digits == 3) {
      return mxfp4_q8_ymm_detail::rows_byte_pairs<kVectors, 3>(blocks, scales, count, first, last, x.data(), output);
    }
    mxfp4_q8_ymm_detail::rows_byte_pairs<kVectors, 1>(blocks, scales, count, first, last, x.data(), output);
  });
}

}  // namespace ossrt::cpu_avx2_test
