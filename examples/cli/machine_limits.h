// The machine's limits that benchmarks compare against, measured in the same
// run: memory read bandwidth (STREAM-like) and peak FMA throughput.
#pragma once

#include <cstddef>
#include <string>

namespace ossrt_cli {

struct Bandwidth {
  double gb_per_s = 0;  // 1e9 bytes per second
  size_t bytes = 0;     // buffer size
  int threads = 0;
};

// Reads `bytes` (rounded down to 4 KiB, on 2 MiB pages where the kernel
// grants them) with `threads` threads (0 = OpenMP's default), `passes` times:
// the best pass. Returns 0 GB/s if the buffer cannot be allocated.
Bandwidth measure_read_bandwidth(size_t bytes, int threads, int passes);

// Peak fp32 FMA throughput of the widest vector unit (AVX-512: 16 lanes, else AVX2: 8),
// from a register-only loop with enough independent chains to fill every FMA
// pipe, on `threads` threads (0 = OpenMP's default). GFLOP/s, one FMA = 2.
double measure_fma_peak_gflops(int threads);

// The CPU as CPUID names it: its brand string and family / model numbers
// (AMD's family 25 is Zen 3 and Zen 4, 26 Zen 4), so a figure says which
// machine it came from: the same brand string covers several generations.
// Empty where the build is not for x86-64.
std::string cpu_identity();

}  // namespace ossrt_cli
