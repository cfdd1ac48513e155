// What the CPU can run, detected once: instruction-set levels the fast CPU
// kernels are built for, and the level chosen (the best one, unless the
// OSSRT_CPU_ISA environment variable or a backend name caps it).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace ossrt {

// Kernel variants, in increasing order of capability.
enum class CpuIsa { scalar = 0, avx2 = 1, avx512 = 2 };

const char* cpu_isa_name(CpuIsa isa) noexcept;  // "scalar", "avx2", "avx512"
std::optional<CpuIsa> cpu_isa_from_name(std::string_view name) noexcept;

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;  // the avx2 level needs all three
  bool avx_vnni = false;                         // VEX vpdpbusd on 256 bits (Intel cores since Alder Lake, Zen 5)
  bool avx512f = false, avx512bw = false, avx512vl = false;  // the avx512 level needs these
  bool avx512_bf16 = false, avx512_vnni = false, avx512_vbmi = false, amx_tile = false, amx_bf16 = false;
  bool intel = false;  // vendor "GenuineIntel" (lone_stream_ahead_bytes, bf16_dot_products_pay)
};

// cpuid + xgetbv (the OS must save the wide registers), read once.
const CpuFeatures& cpu_features() noexcept;

// What a single token's GEMV does with each 64-byte line of bf16 weights:
// one vdpbf16ps (fast numerics' bf16 products), or widens it to fp32 for
// FMAs in 512-bit registers (the AVX-512 level) or in 256-bit ones.
enum class RowWork { bf16_products, fp32_zmm, fp32_ymm };

// How far ahead (bytes) a thread that streams one run of weight lines, a
// single token's GEMV rows, asks for them into L2; 0: not at all, the
// hardware prefetcher keeps the run going. Intel cores: 4096 for every
// kind of row. Their prefetchers leave one run per core short of the read,
// so the run depends on how many lines the out-of-order window holds
// (Emerald Rapids VM, 2 threads, one vdpbf16ps per 64-byte line: 22.6 GB/s
// plain, 30.7 with lines asked for 4-16 KiB ahead, a plain read 31.8).
// Other vendors: 2048 for 512-bit fp32 rows, else 0. Zen 4 VM, unembedding
// rows on 2 MiB pages, one thread: fp32 512-bit 14.7-16.0 GB/s plain, 25.8
// 1 KiB ahead, 26.2-30.4 at 2 KiB, 22.6-26.6 at 3-8 KiB (4 KiB pages: 14.8
// -> 25.8); bf16 products 27.4-30.7 plain, 27.7-31.7 at 2 KiB, 21-26 at
// 4-16 KiB; 256-bit fp32 rows 27.9-28.3 plain, 16.2-17.5 at 2 KiB. In the
// whole model (20b, 2 threads, in turns): decode 8-17 % faster in either
// numerics on the AVX-512 level (the logits are fp32 rows in both), 6 %
// slower on the AVX2 level.
size_t lone_stream_ahead_bytes(RowWork work) noexcept;

// Whether AVX512-BF16's vdpbf16ps outruns fp32 FMAs on this CPU, so that
// fast numerics' bf16 products pay: it has AVX512-BF16 and is not an Intel
// core. Intel's issue one vdpbf16ps every 2 cycles against two 512-bit
// FMAs a cycle: half the fp32 rate (Emerald Rapids VM; vpdpbusd and
// vpdpwssd issue 2 a cycle there). Zen 4 issues one a cycle at the FMA's
// rate: twice the fp32 work.
bool bf16_dot_products_pay() noexcept;

// The best level this CPU and this build support.
CpuIsa best_cpu_isa() noexcept;
// The level an OSSRT_CPU_ISA value asks for on a CPU whose best level is
// `best`: `best` when the value is null or empty (unset), the named level
// capped at `best` (it lowers, never raises), nullopt when it names no level.
std::optional<CpuIsa> cpu_isa_for_request(const char* requested, CpuIsa best) noexcept;
// best_cpu_isa() as OSSRT_CPU_ISA lowers it (the variable is read once); the
// best level when the variable names no level (cpu_isa_variable_error says so).
CpuIsa default_cpu_isa() noexcept;
// Null, or, when OSSRT_CPU_ISA names no level, why: the message names the
// variable, its value and the valid values (static storage; read once).
const char* cpu_isa_variable_error() noexcept;

}  // namespace ossrt
