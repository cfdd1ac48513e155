// The AVX2 level's Q8 expert products, for test_cpu_kernels.cpp (cpu_avx2_q8.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ossrt::cpu_avx2_test {

// out[t * last + r] = row r (of `in` elements, MXFP4 blocks / scales) times
// inputs[t] quantized to Q8 (digits 1) or Q24 (3) (1 to 4 inputs), rows
// [first, last); through
// AVX-VNNI's vpdpbusd where `vnni` (the caller checks the CPU has it and
// AVX2), else vpmaddubsw.
void q8_rows_times_vectors(const uint8_t* blocks, const uint8_t* scales, size_t first, size_t last, size_t in,
                           size_t digits, const std::vector<std::vector<float>>& inputs, float* out, bool vnni);

}  // namespace ossrt::cpu_avx2_test
