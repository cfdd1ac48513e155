#include "backend/cpu/cpu_features.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define OSSRT_X86 1
#endif

namespace ossrt {

const char* cpu_isa_name(CpuIsa isa) noexcept {
  switch (isa) {
    case CpuIsa::scalar:
      return "scalar";
    case CpuIsa::avx2:
      return "avx2";
    case CpuIsa::avx512:
      return "avx512";
  }
  return "unknown";
}

std::optional<CpuIsa> cpu_isa_from_name(std::string_view name) noexcept {
  if (name == "scalar") return CpuIsa::scalar;
  if (name == "avx2") return CpuIsa::avx2;
  if (name == "avx512") return CpuIsa::avx512;
  return std::nullopt;
}

namespace {

CpuFeatures detect() noexcept {
  CpuFeatures f;
#ifdef OSSRT_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return f;
  f.intel = b == 0x756e6547 && d == 0x49656e69 && c == 0x6c65746e;  // "Genu" "ineI" "ntel"
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1;
  f.fma = (c >> 12) & 1;
  f.f16c = (c >> 29) & 1;
  if (!osxsave) return f;
  uint32_t xcr0_lo = 0, xcr0_hi = 0;
  __asm__ volatile("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const uint64_t xcr0 = (static_cast<uint64_t>(xcr0_hi) << 32) | xcr0_lo;
  const bool ymm_saved = (xcr0 & 0x6) == 0x6;          // SSE + AVX state
  const bool zmm_saved = (xcr0 & 0xe6) == 0xe6;        // + opmask, ZMM_Hi256, Hi16_ZMM
  const bool amx_saved = (xcr0 & 0x60000) == 0x60000;  // XTILECFG + XTILEDATA
  if (!ymm_saved) {
    f.fma = f.f16c = false;
    return f;
  }
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  f.avx2 = (b >> 5) & 1;
  if (zmm_saved) {
    f.avx512f = (b >> 16) & 1;
    f.avx512bw = (b >> 30) & 1;
    f.avx512vl = (b >> 31) & 1;
    f.avx512_vbmi = (c >> 1) & 1;
    f.avx512_vnni = (c >> 11) & 1;
  }
  if (amx_saved) {
    f.amx_bf16 = (d >> 22) & 1;
    f.amx_tile = (d >> 24) & 1;
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
    f.avx_vnni = (a >> 4) & 1;
    if (zmm_saved) f.avx512_bf16 = (a >> 5) & 1;
  }
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() noexcept {
  static const CpuFeatures features = detect();
  return features;
}

bool bf16_dot_products_pay() noexcept {
  static const bool pay = cpu_features().avx512_bf16 && !cpu_features().intel;
  return pay;
}

size_t lone_stream_ahead_bytes(RowWork work) noexcept {
  if (cpu_features().intel) return 4096;
  return work == RowWork::fp32_zmm ? 2048 : 0;
}

CpuIsa best_cpu_isa() noexcept {
  const CpuFeatures& f = cpu_features();
  if (!(f.avx2 && f.fma && f.f16c)) return CpuIsa::scalar;
  if (f.avx512f && f.avx512bw && f.avx512vl) return CpuIsa::avx512;
  return CpuIsa::avx2;
}

std::optional<CpuIsa> cpu_isa_for_request(const char* requested, CpuIsa best) noexcept {
  if (requested == nullptr || *requested == '\0') return best;
  const std::optional<CpuIsa> named = cpu_isa_from_name(requested);
  if (!named) return std::nullopt;
  return std::min(*named, best);
}

namespace {

// OSSRT_CPU_ISA as read once: the level it gives, and the error when it names none.
struct CpuIsaVariable {
  CpuIsa isa = CpuIsa::scalar;
  bool valid = true;
  char error[160] = {};
};

const CpuIsaVariable& cpu_isa_variable() noexcept {
  static const CpuIsaVariable variable = [] {
    CpuIsaVariable v;
    const char* requested = std::getenv("OSSRT_CPU_ISA");
    const std::optional<CpuIsa> isa = cpu_isa_for_request(requested, best_cpu_isa());
    v.valid = isa.has_value();
    v.isa = isa.value_or(best_cpu_isa());
    if (!v.valid) {
      std::snprintf(v.error, sizeof v.error,
                    "OSSRT_CPU_ISA is '%.40s'%s; it must be scalar, avx2 or avx512 (or unset: the best level)",
                    requested, std::strlen(requested) > 40 ? "..." : "");
    }
    return v;
  }();
  return variable;
}

}  // namespace

CpuIsa default_cpu_isa() noexcept {
  return cpu_isa_variable().isa;
}

const char* cpu_isa_variable_error() noexcept {
  return cpu_isa_variable().valid ? nullptr : cpu_isa_variable().error;
}

}  // namespace ossrt
