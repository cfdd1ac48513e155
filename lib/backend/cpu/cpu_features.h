// What the CPU can run, detected once: instruction-set levels the fast CPU
// kernels are built for, and the level chosen (the best one, unless the
// OSSRT_CPU_ISA environment variable or a backend name caps it).
#pragma once

#include <optional>
#include <string_view>

namespace ossrt {

// Kernel variants, in increasing order of capability.
enum class CpuIsa { scalar = 0, avx2 = 1, avx512 = 2 };

const char* cpu_isa_name(CpuIsa isa) noexcept;  // "scalar", "avx2", "avx512"
std::optional<CpuIsa> cpu_isa_from_name(std::string_view name) noexcept;

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;              // the avx2 level needs all three
  bool avx512f = false, avx512bw = false, avx512vl = false;  // the avx512 level needs these
  bool avx512_bf16 = false, avx512_vnni = false, amx_tile = false, amx_bf16 = false;
};

// cpuid + xgetbv (the OS must save the wide registers), read once.
const CpuFeatures& cpu_features() noexcept;

// The best level this CPU and this build support.
CpuIsa best_cpu_isa() noexcept;
// best_cpu_isa(), lowered to OSSRT_CPU_ISA when that names a level (read once;
// a level above what the CPU has is ignored).
CpuIsa default_cpu_isa() noexcept;

}  // namespace ossrt
