// The CPU backend: the reference table with the fast kernels of one
// instruction-set level in place of the reference ones.
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"

namespace ossrt {

namespace {

Backend with_avx2() noexcept {
  Backend table = cpu_reference_backend();
  table.name = "cpu-avx2";
  table.matmul_f32_bf16w = cpu_avx2::matmul_f32_bf16w;
  table.moe_mxfp4_f32 = cpu_avx2::moe_mxfp4_f32;
  table.attention_f32 = cpu_avx2::attention_f32;
  return table;
}

}  // namespace

const Backend& cpu_backend(CpuIsa isa) noexcept {
  static const Backend avx2 = with_avx2();
  switch (isa) {
    case CpuIsa::avx2:
    case CpuIsa::avx512:  // no avx512 kernels yet: the avx2 ones run there
      return avx2;
    case CpuIsa::scalar:
      break;
  }
  return cpu_reference_backend();
}

}  // namespace ossrt
