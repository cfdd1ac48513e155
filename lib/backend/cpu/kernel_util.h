// Helpers of the ISA-generic kernels, written in the operations of the level's
// Simd (simd_avx2.h, simd_avx512.h). Include after that header, inside its
// target region; the code lands in that level's own namespace.
#pragma once

#ifndef OSSRT_CPU_KERNEL_NAMESPACE
#error "include a backend/cpu/simd_<level>.h header before this one"
#endif

#include <algorithm>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "backend/backend.h"
#include "util/numeric.h"

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

// How far ahead the streaming weight kernels prefetch. The hardware
// prefetcher alone left MoE decode at half the speed of the same loop on
// cached data (8.2 ms vs 4.3 ms for 4 experts of gpt-oss-20b on the 2-core
// EPYC VM); a software prefetch a few rows ahead closes that gap.
inline constexpr size_t kPrefetchBytes = 2048;

// bf16 values in a 64-byte cache line.
inline constexpr size_t kBf16PerLine = 32;

// Asks for the cache line at p. An asm statement, not __builtin_prefetch:
// GCC 12 dropped the builtin from some loops (mxfp4_q15_zmm.h's, whatever
// their shape). The address goes in as a register, not as a memory operand:
// an asm that reads memory made GCC store every accumulator array of the
// loop around it on each iteration (dot_tile<4, 4>: 16 vector stores beside
// its 16 FMAs).
inline void prefetch_at(const void* p) {
  asm volatile("prefetcht0 (%0)" : : "r"(p));
}

// The same into L2 only (prefetcht1), for lines wanted a whole block of work
// later: brought into L1 that early, they evicted the lines the block was
// reading (decode attention at depth 8192, Zen 4: 1.2-1.5 -> 0.9-1.0 ms a
// call with a bf16 cache, 2.2-2.4 -> 1.4-1.7 ms with fp32).
inline void prefetch_to_l2_at(const void* p) {
  asm volatile("prefetcht1 (%0)" : : "r"(p));
}

// Lines a row's products ask for into L2 ahead of their reads, spread over
// the row: one line at `from` + 64 i after every `every` steps of the row.
struct LinesAhead {
  const char* from = nullptr;  // none where null
  size_t every = 1;

  // Called once per step: asks for the next line where one is due.
  void step(size_t& until_next) {
    if (from == nullptr || until_next-- != 0) return;
    prefetch_to_l2_at(from);
    from += 64;
    until_next = every - 1;
  }
};

// The same kPrefetchBytes past p.
inline void prefetch_ahead(const void* p) {
  prefetch_at(static_cast<const char*>(p) + kPrefetchBytes);
}

// Every 64-byte line of [p, p + bytes) asked for, into L2: its callers ask
// a whole block ahead.
inline void prefetch_lines_to_l2(const void* p, size_t bytes) {
  for (size_t line = 0; line < bytes; line += 64) prefetch_to_l2_at(static_cast<const char*>(p) + line);
}

// For kernels that stream a thread's weight rows a block of rows at a time
// (the thread's rows one contiguous range): while `step_bytes` of the
// current block (`block_bytes` long, `done_bytes` of it consumed) are read,
// the same share of the next block is asked for, so the misses of a whole
// block are in flight where a fixed distance ahead in each row leaves every
// block's first lines to demand misses (one-thread Q8_0 qkv 12 -> 21-24 GB/s,
// Zen 4). Into L2: a block ahead in L1 evicted the block being read (Q8_0
// GEMVs, 2 threads, Zen 4: qkv 0.56-1.03 -> 0.34-0.60 ms, unembedding
// 23-43 -> 15-22 ms). Past the thread's rows it asks for lines nobody reads,
// which a prefetch may do: it never faults.
inline void prefetch_next_block(const void* block, size_t block_bytes, size_t done_bytes, size_t step_bytes) {
  prefetch_lines_to_l2(static_cast<const char*>(block) + block_bytes + done_bytes, step_bytes);
}

// Share `part` of `parts` of the lines of [p, p + bytes), into L2: for
// kernels that spend a long stretch on one block of rows in parts and ask
// for the next block over those parts (mxfp4_q15_gemm.h's tiles).
inline void prefetch_share_to_l2(const void* p, size_t bytes, size_t part, size_t parts) {
  const size_t lines = (bytes + 63) / 64, from = lines * part / parts, to = lines * (part + 1) / parts;
  prefetch_lines_to_l2(static_cast<const char*>(p) + 64 * from, 64 * (to - from));
}

// Calls f(std::integral_constant<size_t, N>{}) with N = min(n, Max) for
// n >= 1 (n = 0: no call). The register-blocked kernels take their block
// sizes (tokens, rows, vectors) as template arguments so that every loop over
// them unrolls and their accumulators stay in registers; this picks the
// instance for a runtime tail.
template <size_t Max, class F>
inline void with_count(size_t n, F&& f) {
  const size_t clamped = std::min(n, Max);
  [&]<size_t... I>(std::index_sequence<I...>) {
    static_cast<void>(((clamped == I + 1 ? (f(std::integral_constant<size_t, I + 1>{}), true) : false) || ...));
  }
  (std::make_index_sequence<Max>{});
}

// dst[0, count) = src widened to fp32, a vector at a time.
inline void widen_bf16(const bf16_t* src, size_t count, float* dst) {
  size_t i = 0;
  for (; i + Simd::kLanes <= count; i += Simd::kLanes) Simd::store(dst + i, Simd::load_bf16(src + i));
  for (; i < count; ++i) dst[i] = bf16_to_f32(src[i]);
}

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
