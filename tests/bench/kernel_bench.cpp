// Kernel micro-benchmarks at gpt-oss-20b shapes: decode kernels in GB/s (of
// weights or KV read) against the machine's measured read bandwidth, prefill
// kernels in GFLOP/s against its measured FMA peak, for every CPU kernel level
// this machine runs. Buffers rotate through more memory than the last-level
// cache holds, so decode figures are memory figures. Not a test: timings.
//
//   ossrt-bench-kernels [--threads N] [--reference] [--only TEXT] [--json]
// The header names the bf16 products fast numerics use here (oneDNN's, or none).
// --only runs the kernels whose name contains TEXT (for profiling one).
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <new>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/onednn_bf16_matmul.h"
#include "machine_limits.h"
#include "model/device_buffer.h"
#include "util/numeric.h"
#include "util/owned_pages.h"

using namespace ossrt;

namespace {

// gpt-oss-20b's widths.
constexpr size_t H = 2880, I = 2880, E = 32, K = 4, V = 201088, NQ = 64, NKV = 8, D = 64, QKV = D * (NQ + 2 * NKV);

// Bytes each decode kernel's inputs rotate through: four times the last-level
// cache (at least 512 MiB), so consecutive calls find nothing cached. Server
// parts have hundreds of MB of L3; a fixed size would time their cache.
size_t rotation_bytes() {
  static const size_t bytes = [] {
    const long llc = sysconf(_SC_LEVEL3_CACHE_SIZE);
    return std::max(size_t{512} << 20, 4 * static_cast<size_t>(std::max(llc, 0L)));
  }();
  return bytes;
}

// Cheap deterministic fill (a 64-bit LCG): values, not statistics, matter here.
struct Filler {
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  uint32_t next() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<uint32_t>(state >> 33);
  }
  void floats(std::vector<float>& v, float spread) {
    for (float& x : v) x = spread * (static_cast<float>(next() % 2001) / 1000.0f - 1.0f);
  }
  void bf16s(std::vector<bf16_t>& v, float spread) {
    for (bf16_t& x : v) x = f32_to_bf16(spread * (static_cast<float>(next() % 2001) / 1000.0f - 1.0f));
  }
  // Q8_0 blocks: random codes, scales d of about 2^-11 (weights within +-0.06).
  void q8_0s(std::vector<uint8_t>& v) {
    bytes(v, 0, 255);
    for (size_t b = 0; b + kQ8_0BlockBytes <= v.size(); b += kQ8_0BlockBytes) {
      const uint32_t half = 0x1000u | next() % 1024u;
      v[b] = static_cast<uint8_t>(half & 0xff);
      v[b + 1] = static_cast<uint8_t>(half >> 8);
    }
  }
  void bytes(std::vector<uint8_t>& v, int low, int high) { bytes(v.data(), v.size(), low, high); }
  void bytes(uint8_t* p, size_t count, int low, int high) {
    for (size_t i = 0; i < count; ++i)
      p[i] = static_cast<uint8_t>(low + static_cast<int>(next() % static_cast<uint32_t>(high - low + 1)));
  }
};

struct Measurement {
  std::string kernel, level;
  double seconds = 0;  // median per call
  double amount = 0;   // bytes (decode) or flops (prefill) per call
  bool memory_bound = true;
};

// The process's CPU seconds (all threads), for --cpu-time.
double process_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

// --cpu-time: calls are timed in CPU seconds per thread instead of wall
// seconds, which a machine shared with other jobs leaves nearly unchanged
// where wall time doubles (meaningful with --threads 1: waiting OpenMP
// threads spin and count).
bool g_cpu_time = false;

// Median seconds per call over at least 5 calls and ~0.5 s.
double time_calls(const std::function<void(size_t)>& call) {
  using Clock = std::chrono::steady_clock;
  call(0);  // warm up
  std::vector<double> samples;
  const auto begin = Clock::now();
  const double threads = omp_get_max_threads();
  for (size_t i = 1; samples.size() < 5 || std::chrono::duration<double>(Clock::now() - begin).count() < 0.5; ++i) {
    const auto start = Clock::now();
    const double cpu_start = g_cpu_time ? process_cpu_seconds() : 0;
    call(i);
    samples.push_back(g_cpu_time ? (process_cpu_seconds() - cpu_start) / threads
                                 : std::chrono::duration<double>(Clock::now() - start).count());
    if (samples.size() >= 200) break;
  }
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

// An input in `copies` copies so consecutive calls read cold memory. Weights
// live in plain heap memory (like a mapped checkpoint, small pages); a KV
// cache takes `session_memory`, the backend allocation a session's cache gets
// (large buffers there are on huge pages where the kernel grants them).
template <class T>
struct Rotating {
  std::vector<std::vector<T>> copies;
  std::vector<DeviceBuffer> buffers;  // copies in session memory, if asked for
  Rotating(size_t elements, const std::function<void(std::vector<T>&)>& fill, const Backend* session_memory = nullptr) {
    const size_t count = std::max<size_t>(1, rotation_bytes() / (elements * sizeof(T) + 1) + 1);
    copies.resize(std::min<size_t>(count, 1024));
    for (auto& c : copies) {
      c.resize(elements);
      fill(c);
      if (session_memory == nullptr) continue;
      buffers.emplace_back(*session_memory, elements * sizeof(T));
      if (!buffers.back().ok()) throw std::bad_alloc();
      std::memcpy(buffers.back().as<T>(), c.data(), elements * sizeof(T));
      std::vector<T>().swap(c);
    }
  }
  const T* at(size_t i) const {
    return buffers.empty() ? copies[i % copies.size()].data() : buffers[i % buffers.size()].as<T>();
  }
};

std::vector<Measurement> run_level(const Backend& be, const std::string& level, bool quick, const std::string& only) {
  std::vector<Measurement> out;
  // Inputs are built only for the kernels that run (--only): some take GBs.
  auto wanted = [&](const std::string& kernel) { return only.empty() || kernel.find(only) != std::string::npos; };
  auto measure = [&](const std::string& kernel, double amount, bool memory_bound,
                     const std::function<void(size_t)>& call) {
    if (wanted(kernel)) out.push_back({kernel, level, time_calls(call), amount, memory_bound});
  };
  Filler fill;
  std::vector<float> x(512 * std::max(H, NQ * D)), y(512 * QKV);
  fill.floats(x, 1.0f);

  // bf16 GEMVs, one token, in both numerics (fast: the token rounded to bf16,
  // AVX512-BF16 products where the CPU has them): the unembedding, the qkv
  // projection and the attention output projection (4096 inputs). Then the
  // GEMVs in Q8_0 (GGUF files: 34 bytes per 32 weights against bf16's 64).
  constexpr size_t O = NQ * D;
  struct Bf16Gemv {
    const char* shape;
    size_t out, in;
  };
  for (const Bf16Gemv& g : {Bf16Gemv{"unembedding 201088x2880", V, H}, Bf16Gemv{"qkv 5120x2880", QKV, H},
                            Bf16Gemv{"out 2880x4096", H, O}}) {
    const std::string name = std::string("gemv bf16 ") + g.shape, fast_name = name + ", fast numerics";
    if (!wanted(name) && !wanted(fast_name)) continue;
    Rotating<bf16_t> w(g.out * g.in, [&](std::vector<bf16_t>& v) { fill.bf16s(v, 0.03f); });
    std::vector<float> result(g.out);
    for (bool fast : {false, true}) {
      measure(fast ? fast_name : name, 2.0 * g.out * g.in, true, [&](size_t i) {
        be.matmul_f32_bf16w(
            be.self, MatmulArgs{x.data(), g.in, w.at(i), nullptr, result.data(), g.out, 1, g.in, g.out, false, fast});
      });
    }
  }
  struct Q8Gemv {
    const char* shape;
    size_t out, in;
  };
  for (const Q8Gemv& g :
       {Q8Gemv{"qkv 5120x2880", QKV, H}, Q8Gemv{"out 2880x4096", H, O}, Q8Gemv{"unembedding 201088x2880", V, H}}) {
    const std::string name = std::string("gemv q8_0 ") + g.shape, fast_name = name + ", fast numerics";
    if (!wanted(name) && !wanted(fast_name)) continue;
    const size_t bytes = g.out * g.in / kQ8_0BlockValues * kQ8_0BlockBytes;
    Rotating<uint8_t> w(bytes, [&](std::vector<uint8_t>& v) { fill.q8_0s(v); });
    std::vector<float> outputs(g.out);
    for (bool fast : {false, true}) {
      measure(fast ? fast_name : name, static_cast<double>(bytes), true, [&](size_t i) {
        be.matmul_f32_q8_0w(
            be.self, MatmulArgs{x.data(), g.in, nullptr, nullptr, outputs.data(), g.out, 1, g.in, g.out, false, fast},
            w.at(i));
      });
    }
  }

  // Batched decode (issue 31): 8 sessions' tokens through the qkv projection,
  // weights cold as in a step; at 8 tokens the product is compute-bound.
  constexpr size_t kBatchRows = 8;
  const std::string batch_qkv = "gemm bf16 qkv, 8 tokens", batch_qkv_fast = batch_qkv + ", fast numerics";
  if (wanted(batch_qkv) || wanted(batch_qkv_fast)) {
    Rotating<bf16_t> w(QKV * H, [&](std::vector<bf16_t>& v) { fill.bf16s(v, 0.03f); });
    for (bool fast : {false, true}) {
      measure(fast ? batch_qkv_fast : batch_qkv, 2.0 * kBatchRows * QKV * H, false, [&](size_t i) {
        be.matmul_f32_bf16w(be.self,
                            MatmulArgs{x.data(), H, w.at(i), nullptr, y.data(), QKV, kBatchRows, H, QKV, false, fast});
      });
    }
  }

  // MXFP4 MoE, one token through 4 of 32 experts (different experts each call).
  const std::string moe_decode = "moe mxfp4 decode (4 of 32 experts)", moe_prefill = "moe mxfp4 prefill, 512 tokens";
  // Numerics::fast's expert products: Q15 inputs, and bf16 products where
  // oneDNN has them natively here.
  const std::string moe_decode_fast = moe_decode + ", fast numerics",
                    moe_prefill_fast = moe_prefill + ", fast numerics";
  const bool fast_differs = onednn_bf16_implementation() != nullptr;
  const std::string moe_batch = "moe mxfp4 8 tokens (batched decode)", moe_batch_fast = moe_batch + ", fast numerics";
  const bool moe_wanted = wanted(moe_decode) || wanted(moe_decode_fast) || wanted(moe_batch) ||
                          wanted(moe_batch_fast) || (!quick && (wanted(moe_prefill) || wanted(moe_prefill_fast)));
  // Decode cycles through more experts than one layer has (as a token does
  // through the layers), so they stay out of the cache between calls.
  const size_t expert_bytes = 3 * I * H / 32 * 17, stored = std::max(E, rotation_bytes() / expert_bytes + 1);
  const size_t S = moe_wanted ? stored : 0;
  // On 2 MiB pages, as a model holds experts in its own memory (read in, or
  // converted at load), the only place they are tiled: the page size moves
  // what the prefetches are worth (one thread, Zen 4 VM, tiled Q8 rows
  // without them: 22.2 GB/s on 4 KiB pages, 31.0 on 2 MiB).
  const auto pages = [&](size_t bytes, int low, int high) {
    Result<OwnedPages> p = OwnedPages::allocate(bytes, "experts");
    if (!p.ok()) throw std::bad_alloc();
    fill.bytes(p.value().data(), bytes, low, high);
    return std::move(p.value());
  };
  const OwnedPages w1 = pages(S * 2 * I * H / 32 * 16, 0, 255), s1 = pages(S * 2 * I * H / 32, 121, 125);
  const OwnedPages w2 = pages(S * H * I / 32 * 16, 0, 255), s2 = pages(S * H * I / 32, 119, 123);
  std::vector<bf16_t> b1(S * 2 * I), b2(S * H);
  fill.bf16s(b1, 0.5f);
  fill.bf16s(b2, 0.1f);
  std::vector<float> scratch(512 * K * 3 * I), moe_y(512 * H);
  // The experts in the backend's own layout where it has one, as a model loaded into memory has them.
  const bool tiled = be.tile_experts != nullptr && be.tile_experts(be.self, w1.data(), s1.data(), S, 2 * I, H / 32) &&
                     be.tile_experts(be.self, w2.data(), s2.data(), S, H, I / 32);
  auto moe_args = [&](size_t n, const int32_t* ids, const float* weights, bool fast = false) {
    return MoeArgs{x.data(),  n,         H,         I,         K,         ids,  weights,        w1.data(),
                   s1.data(), b1.data(), w2.data(), s2.data(), b2.data(), 7.0f, scratch.data(), moe_y.data(),
                   fast,      fast,      tiled,     tiled};
  };
  for (bool fast : {false, true}) {
    measure(fast ? moe_decode_fast : moe_decode, K * (2.0 * I * (H / 32 * 17 + 2) + H * (I / 32 * 17 + 2)), true,
            [&](size_t i) {
              int32_t ids[K];
              for (size_t k = 0; k < K; ++k) ids[k] = static_cast<int32_t>((i * 5 * K + k * 7) % stored);
              const float weights[K] = {0.4f, 0.3f, 0.2f, 0.1f};
              be.moe_mxfp4_f32(be.self, moe_args(1, ids, weights, fast));
            });
  }

  // 8 sessions' tokens, each through 4 experts drawn at random (about 21
  // distinct experts of 32 a step).
  for (bool fast : {false, true}) {
    const std::string& name = fast ? moe_batch_fast : moe_batch;
    if (!wanted(name)) continue;
    measure(name, 2.0 * kBatchRows * K * 3.0 * I * H, false, [&](size_t i) {
      // One layer's 32 experts (a different layer each call), 4 distinct per token.
      const size_t layer = i * E % (stored - E + 1);
      int32_t ids[kBatchRows * K];
      uint32_t draw = static_cast<uint32_t>(i) * 2654435761u + 1;
      for (size_t t = 0; t < kBatchRows; ++t) {
        for (size_t k = 0; k < K; ++k) {
          int32_t id = 0;
          do {
            draw = draw * 1664525u + 1013904223u;
            id = static_cast<int32_t>(layer + (draw >> 16) % E);
          } while (std::find(ids + t * K, ids + t * K + k, id) != ids + t * K + k);
          ids[t * K + k] = id;
        }
      }
      float weights[kBatchRows * K];
      for (size_t p = 0; p < kBatchRows * K; ++p) weights[p] = 0.25f;
      be.moe_mxfp4_f32(be.self, moe_args(kBatchRows, ids, weights, fast));
    });
  }

  // Attention over a dense layer's cache: one token at a chat's depth and at 8192.
  std::vector<float> q(512 * QKV), att(512 * NQ * D);
  std::vector<bf16_t> sinks(NQ);
  fill.floats(q, 1.0f);
  fill.bf16s(sinks, 1.0f);
  for (size_t depth : {size_t{1024}, size_t{8192}}) {
    const std::string name = "attention decode at depth " + std::to_string(depth);
    if (!wanted(name)) continue;
    const size_t elements = depth * NKV * D;
    {
      // Keys and values of one layer in one block, as the cache stores them.
      Rotating<float> kv(
          2 * elements, [&](std::vector<float>& v) { fill.floats(v, 1.0f); }, &be);
      measure(name, 2.0 * elements * sizeof(float), true, [&](size_t i) {
        be.attention_f32(
            be.self, AttentionArgs{q.data(), QKV, kv.at(i), kv.at(i) + elements, depth, false, KvType::f32, 1,
                                   depth - 1, 0, NQ, NKV, D, sinks.data(), 0.125f, att.data(), NQ * D, nullptr, false});
      });
    }
    // The same in bf16 (Numerics::fast): half the bytes to read.
    Rotating<bf16_t> kv(
        2 * elements, [&](std::vector<bf16_t>& v) { fill.bf16s(v, 1.0f); }, &be);
    measure(name + ", bf16 cache", 2.0 * elements * sizeof(bf16_t), true, [&](size_t i) {
      be.attention_f32(
          be.self, AttentionArgs{q.data(), QKV, kv.at(i), kv.at(i) + elements, depth, false, KvType::bf16, 1, depth - 1,
                                 0, NQ, NKV, D, sinks.data(), 0.125f, att.data(), NQ * D, nullptr, true});
    });
  }
  if (quick) return out;

  // Prefill: 512 tokens.
  const size_t T = 512;
  const std::string gemm_qkv = "gemm bf16 qkv, 512 tokens", gemm_qkv_fast = gemm_qkv + ", fast numerics";
  if (wanted(gemm_qkv) || (fast_differs && wanted(gemm_qkv_fast))) {
    std::vector<bf16_t> w(QKV * H);
    fill.bf16s(w, 0.03f);
    std::vector<float> rows(T * QKV);
    measure(gemm_qkv, 2.0 * T * QKV * H, false, [&](size_t) {
      be.matmul_f32_bf16w(be.self,
                          MatmulArgs{x.data(), H, w.data(), nullptr, rows.data(), QKV, T, H, QKV, false, false});
    });
    if (fast_differs) {
      measure(gemm_qkv_fast, 2.0 * T * QKV * H, false, [&](size_t) {
        be.matmul_f32_bf16w(be.self,
                            MatmulArgs{x.data(), H, w.data(), nullptr, rows.data(), QKV, T, H, QKV, false, true});
      });
    }
  }
  // The attention output projection's prefill, bf16 and Q8_0 (both numerics).
  const std::string gemm_out = "gemm bf16 out, 512 tokens", gemm_out_q8 = "gemm q8_0 out, 512 tokens",
                    gemm_out_q8_fast = gemm_out_q8 + ", fast numerics";
  if (wanted(gemm_out)) {
    std::vector<bf16_t> w(H * O);
    fill.bf16s(w, 0.03f);
    std::vector<float> rows(T * H);
    measure(gemm_out, 2.0 * T * H * O, false, [&](size_t) {
      be.matmul_f32_bf16w(be.self, MatmulArgs{x.data(), O, w.data(), nullptr, rows.data(), H, T, O, H, false, false});
    });
  }
  if (wanted(gemm_out_q8) || wanted(gemm_out_q8_fast)) {
    std::vector<uint8_t> w(H * O / kQ8_0BlockValues * kQ8_0BlockBytes);
    fill.q8_0s(w);
    std::vector<float> rows(T * H);
    for (bool fast : {false, true}) {
      measure(fast ? gemm_out_q8_fast : gemm_out_q8, 2.0 * T * H * O, false, [&](size_t) {
        be.matmul_f32_q8_0w(be.self, MatmulArgs{x.data(), O, nullptr, nullptr, rows.data(), H, T, O, H, false, fast},
                            w.data());
      });
    }
  }
  {
    std::vector<int32_t> ids(T * K);
    std::vector<float> weights(T * K, 0.25f);
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int32_t>(fill.next() % E);
    for (bool fast : {false, true}) {
      measure(fast ? moe_prefill_fast : moe_prefill, 2.0 * T * K * 3 * I * H, false,
              [&](size_t) { be.moe_mxfp4_f32(be.self, moe_args(T, ids.data(), weights.data(), fast)); });
    }
  }
  double flops = 0;  // q.k and p.v over each causal prefix
  for (size_t p = 0; p < T; ++p) flops += 4.0 * NQ * D * static_cast<double>(p + 1);
  std::vector<float> k_cache(T * NKV * D), v_cache(T * NKV * D);
  fill.floats(k_cache, 1.0f);
  fill.floats(v_cache, 1.0f);
  measure("attention prefill, 512 tokens", flops, false, [&](size_t) {
    be.attention_f32(be.self, AttentionArgs{q.data(), QKV, k_cache.data(), v_cache.data(), T, false, KvType::f32, T, 0,
                                            0, NQ, NKV, D, sinks.data(), 0.125f, att.data(), NQ * D, nullptr, false});
  });
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false, reference = false;
  std::string only;
  int threads = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (std::strcmp(argv[i], "--cpu-time") == 0) {
      g_cpu_time = true;
    } else if (std::strcmp(argv[i], "--reference") == 0) {
      reference = true;
    } else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else if (std::strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--threads N] [--cpu-time] [--reference] [--only TEXT] [--json]\n", argv[0]);
      return 2;
    }
  }
  if (threads > 0) omp_set_num_threads(threads);
  threads = omp_get_max_threads();
  const double bandwidth = ossrt_cli::measure_read_bandwidth(size_t{1} << 30, threads, 5).gb_per_s;
  const double peak = ossrt_cli::measure_fma_peak_gflops(threads);

  std::vector<Measurement> all;
  if (reference) {
    auto r = run_level(cpu_reference_backend(), "reference", true, only);
    all.insert(all.end(), r.begin(), r.end());
  }
  for (CpuIsa isa : {CpuIsa::avx2, CpuIsa::avx512}) {
    if (isa > best_cpu_isa()) continue;
    auto r = run_level(cpu_backend(isa), cpu_isa_name(isa), false, only);
    all.insert(all.end(), r.begin(), r.end());
  }
  // oneDNN's implementation ("brg:avx512_core_amx"), or none native here.
  const char* implementation = onednn_bf16_implementation();
  const char* bf16_products = implementation != nullptr ? implementation : "none";
  if (json) {
    std::printf(
        "{\"threads\":%d,\"bandwidth_gbs\":%.2f,\"fma_peak_gflops\":%.1f,\"bf16_products\":\"%s\",\"kernels\":[",
        threads, bandwidth, peak, bf16_products);
    for (size_t i = 0; i < all.size(); ++i) {
      const Measurement& m = all[i];
      const double rate = m.amount / m.seconds / 1e9;
      std::printf("%s{\"kernel\":\"%s\",\"level\":\"%s\",\"ms\":%.4f,\"%s\":%.2f,\"pct_of_limit\":%.1f}", i ? "," : "",
                  m.kernel.c_str(), m.level.c_str(), m.seconds * 1e3, m.memory_bound ? "gbs" : "gflops", rate,
                  100 * rate / (m.memory_bound ? bandwidth : peak));
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("%d threads; read bandwidth %.2f GB/s, fp32 FMA peak %.1f GFLOP/s (both measured now)\n", threads,
              bandwidth, peak);
  std::printf("fast numerics' bf16 products: %s\n", bf16_products);
  int name_width = 6;  // "kernel"
  for (const Measurement& m : all) name_width = std::max(name_width, static_cast<int>(m.kernel.size()));
  std::printf("%-*s %-10s %10s %14s %9s\n", name_width, "kernel", "level", "ms/call", "rate", "of limit");
  for (const Measurement& m : all) {
    const double rate = m.amount / m.seconds / 1e9;
    std::printf("%-*s %-10s %10.3f %9.2f %-4s %8.1f%%\n", name_width, m.kernel.c_str(), m.level.c_str(),
                m.seconds * 1e3, rate, m.memory_bound ? "GB/s" : "GF/s",
                100 * rate / (m.memory_bound ? bandwidth : peak));
  }
  return 0;
}
