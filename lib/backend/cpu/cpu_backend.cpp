// The CPU backend: the reference table with the fast kernels of one
// instruction-set level in place of the reference ones.
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/onednn_bf16_matmul.h"

namespace ossrt {

namespace {

Backend with_kernels(const char* name, void (*fill_kernels)(Backend&) noexcept) noexcept {
  Backend table = cpu_reference_backend();
  table.name = name;
  fill_kernels(table);
  return table;
}

}  // namespace

const Backend& cpu_backend(CpuIsa isa) noexcept {
  // Before the models' first oneDNN call: oneDNN settles its ISA once.
  onednn_allow_amx();
  switch (isa) {
    case CpuIsa::avx2: {
      static const Backend avx2 = with_kernels("cpu-avx2", cpu_avx2::fill_kernels);
      return avx2;
    }
    case CpuIsa::avx512: {
      static const Backend avx512 = with_kernels("cpu-avx512", cpu_avx512::fill_kernels);
      return avx512;
    }
    case CpuIsa::scalar:
      break;
  }
  return cpu_reference_backend();
}

}  // namespace ossrt
