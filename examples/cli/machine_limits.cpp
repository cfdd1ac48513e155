#include "machine_limits.h"

#include <omp.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace ossrt_cli {
namespace {

// Where the folds end up, so the compiler cannot drop the reads.
volatile uint64_t observed_fold;

// XOR-folds a range with 512- or 256-bit loads where the CPU has them, so the
// reads are as wide as the kernels' (the fold keeps the compiler from dropping
// them). AVX-512 reads reach more of the bandwidth on the CPUs that have them.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) uint64_t fold_avx512(const uint8_t* p, size_t bytes) {
  __m512i a = _mm512_setzero_si512(), b = a;
  for (size_t i = 0; i + 128 <= bytes; i += 128) {
    a = _mm512_xor_si512(a, _mm512_load_si512(p + i));
    b = _mm512_xor_si512(b, _mm512_load_si512(p + i + 64));
  }
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, _mm512_xor_si512(a, b));
  uint64_t folded = 0;
  for (uint64_t lane : lanes) folded ^= lane;
  return folded;
}

__attribute__((target("avx2"))) uint64_t fold_avx2(const uint8_t* p, size_t bytes) {
  __m256i a = _mm256_setzero_si256(), b = a, c = a, d = a;
  for (size_t i = 0; i + 128 <= bytes; i += 128) {
    a = _mm256_xor_si256(a, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    b = _mm256_xor_si256(b, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
    c = _mm256_xor_si256(c, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
    d = _mm256_xor_si256(d, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
  }
  const __m256i all = _mm256_xor_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(c, d));
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), all);
  return lanes[0] ^ lanes[1] ^ lanes[2] ^ lanes[3];
}

// 12 independent FMA chains x 8 (16) lanes: deeper than latency x pipes on
// current cores. Values stay finite (x * 1 + 0).
__attribute__((target("avx512f"))) float fma_chains_avx512(long iterations) {
  __m512 acc[12];
  for (int k = 0; k < 12; ++k) acc[k] = _mm512_set1_ps(static_cast<float>(k));
  const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
  for (long i = 0; i < iterations; ++i) {
    for (int k = 0; k < 12; ++k) acc[k] = _mm512_fmadd_ps(acc[k], one, zero);
  }
  __m512 total = zero;
  for (int k = 0; k < 12; ++k) total = _mm512_add_ps(total, acc[k]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, total);
  return lanes[0];
}

__attribute__((target("avx2,fma"))) float fma_chains_avx2(long iterations) {
  __m256 acc[12];
  for (int k = 0; k < 12; ++k) acc[k] = _mm256_set1_ps(static_cast<float>(k));
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  for (long i = 0; i < iterations; ++i) {
    for (int k = 0; k < 12; ++k) acc[k] = _mm256_fmadd_ps(acc[k], one, zero);
  }
  __m256 total = zero;
  for (int k = 0; k < 12; ++k) total = _mm256_add_ps(total, acc[k]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, total);
  return lanes[0];
}
#endif

uint64_t fold_portable(const uint8_t* p, size_t bytes) {
  uint64_t acc[4] = {0, 0, 0, 0};
  for (size_t i = 0; i + 32 <= bytes; i += 32) {
    for (size_t k = 0; k < 4; ++k) {
      uint64_t word;
      std::memcpy(&word, p + i + 8 * k, 8);
      acc[k] ^= word;
    }
  }
  return acc[0] ^ acc[1] ^ acc[2] ^ acc[3];
}

uint64_t fold(const uint8_t* p, size_t bytes) {
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) return fold_avx512(p, bytes);
  if (__builtin_cpu_supports("avx2")) return fold_avx2(p, bytes);
#endif
  return fold_portable(p, bytes);
}

// Anonymous memory on 2 MiB pages where the kernel gives them (the mapping
// aligned to 2 MiB, MADV_HUGEPAGE), as the weights read into memory ask for:
// on 4 KiB pages the same read reached 38-40 GB/s where 2 MiB pages reached
// 59-61 (2 threads, Zen 4 VM, in turns), and a roofline from the slower read
// flattered every decode measured against it (issue 28).
class HugePageBuffer {
 public:
  explicit HugePageBuffer(size_t bytes) : mapped_(bytes + kHugePage) {
    void* p = ::mmap(nullptr, mapped_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return;
    base_ = p;
    data_ = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(p) + kHugePage - 1) / kHugePage * kHugePage);
    static_cast<void>(::madvise(data_, bytes, MADV_HUGEPAGE));  // advisory
  }
  HugePageBuffer(const HugePageBuffer&) = delete;
  HugePageBuffer& operator=(const HugePageBuffer&) = delete;
  ~HugePageBuffer() {
    if (base_ != nullptr) ::munmap(base_, mapped_);
  }
  uint8_t* data() const { return data_; }

 private:
  static constexpr size_t kHugePage = size_t{2} << 20;
  size_t mapped_;
  void* base_ = nullptr;
  uint8_t* data_ = nullptr;
};

}  // namespace

Bandwidth measure_read_bandwidth(size_t bytes, int threads, int passes) {
  constexpr size_t kPage = 4096;
  Bandwidth result;
  result.threads = threads > 0 ? threads : omp_get_max_threads();
  result.bytes = bytes / kPage * kPage;
  const HugePageBuffer buffer(result.bytes);
  if (buffer.data() == nullptr || result.bytes == 0) return result;
  uint8_t* data = buffer.data();
  const long long pages = static_cast<long long>(result.bytes / kPage);
  // Each thread first touches the pages it will read (first-touch placement).
#pragma omp parallel for schedule(static) num_threads(result.threads)
  for (long long page = 0; page < pages; ++page) std::memset(data + page * kPage, static_cast<int>(page), kPage);
  uint64_t sink = 0;
  double best = 0;
  for (int pass = 0; pass < passes; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    uint64_t folded = 0;
    // One contiguous slice per thread: long sequential streams for the prefetchers.
#pragma omp parallel num_threads(result.threads) reduction(^ : folded)
    {
      const size_t team = static_cast<size_t>(omp_get_num_threads()), id = static_cast<size_t>(omp_get_thread_num());
      const size_t slice = static_cast<size_t>(pages) / team * kPage;
      folded ^= fold(data + id * slice, id + 1 == team ? result.bytes - id * slice : slice);
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    sink ^= folded;
    if (seconds > 0) best = std::max(best, static_cast<double>(result.bytes) / seconds / 1e9);
  }
  observed_fold = sink;
  result.gb_per_s = best;
  return result;
}

double measure_fma_peak_gflops(int threads) {
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
  const bool wide = __builtin_cpu_supports("avx512f");  // the widest FMA unit present
  const int team = threads > 0 ? threads : omp_get_max_threads();
  constexpr long kIterations = 20'000'000;
  double best = 0;
  for (int pass = 0; pass < 3; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    float sink = 0;
#pragma omp parallel num_threads(team) reduction(+ : sink)
    sink += wide ? fma_chains_avx512(kIterations) : fma_chains_avx2(kIterations);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    observed_fold = static_cast<uint64_t>(sink);
    const double lanes = wide ? 16 : 8;
    best = std::max(best, 2.0 * lanes * 12 * static_cast<double>(kIterations) * team / seconds / 1e9);
  }
  return best;
#else
  static_cast<void>(threads);
  return 0;
#endif
}

std::string cpu_identity() {
#if defined(__x86_64__)
  unsigned regs[12] = {};
  std::string brand;
  if (__get_cpuid(0x80000000u, &regs[0], &regs[1], &regs[2], &regs[3]) && regs[0] >= 0x80000004u) {
    for (unsigned leaf = 0; leaf < 3; ++leaf) {
      __get_cpuid(0x80000002u + leaf, &regs[4 * leaf], &regs[4 * leaf + 1], &regs[4 * leaf + 2], &regs[4 * leaf + 3]);
    }
    char text[sizeof regs + 1] = {};
    std::memcpy(text, regs, sizeof regs);
    // Printable ASCII only (it goes into JSON), runs of spaces folded.
    for (const char* c = text; *c != '\0'; ++c) {
      const bool space = *c == ' ' || *c < 0x20 || *c > 0x7e || *c == '"' || *c == '\\';
      if (space && (brand.empty() || brand.back() == ' ')) continue;
      brand += space ? ' ' : *c;
    }
    while (!brand.empty() && brand.back() == ' ') brand.pop_back();
  }
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return brand;
  // The extended fields count only past family 15 (and, for the model, at family 6).
  const unsigned base_family = (eax >> 8) & 0xf, base_model = (eax >> 4) & 0xf;
  const unsigned family = base_family == 0xf ? base_family + ((eax >> 20) & 0xff) : base_family;
  const unsigned model = base_family == 0xf || base_family == 6 ? base_model + (((eax >> 16) & 0xf) << 4) : base_model;
  return (brand.empty() ? std::string("x86-64") : brand) + ", family " + std::to_string(family) + " model " +
         std::to_string(model);
#else
  return {};
#endif
}

}  // namespace ossrt_cli
