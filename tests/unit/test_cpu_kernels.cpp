// Every fast CPU kernel against the scalar reference, on every instruction-set
// level this machine runs, over shapes with ragged tails; and the dispatch.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "backend/cpu/mxfp4_tiles.h"
#include "backend/kernel_profiler.h"
#include "cpu_avx2_q8.h"
#include "random_inputs.hpp"
#include "util/numeric.h"
#include "util/q15.h"
#include "util/q8.h"
#include "util/thread_scope.h"

using namespace ossrt;

#if defined(OSSRT_TEST_AVX512_EMULATION)
namespace ossrt::cpu_avx512_emulated {
void fill_kernels(Backend& table) noexcept;
// The MoE and matmul kernels with bf16 products computed one element at a
// time (or, with fail, refused so that the kernel computes them itself).
void moe_with_scalar_bf16_products(const MoeArgs& args, bool fail);
void matmul_with_scalar_bf16_products(const MatmulArgs& args, bool fail);
void q15_rows_times_vectors(const uint8_t* blocks, const uint8_t* scales, size_t first, size_t last, size_t in,
                            const std::vector<std::vector<float>>& inputs, float* out);
void bf16_rows_times_vectors(const uint8_t* blocks, const uint8_t* scales, size_t first, size_t last, size_t in,
                             size_t terms, const std::vector<std::vector<float>>& inputs, float* out);
// tiled_rows: 0 where the matrix is in plain rows, else its rows, in tiles (mxfp4_tiles.h).
void q8_rows_times_vectors(const uint8_t* blocks, const uint8_t* scales, size_t first, size_t last, size_t in,
                           size_t digits, const std::vector<std::vector<float>>& inputs, float* out,
                           size_t tiled_rows = 0);
// mxfp4_tiles.h's untile_mxfp4_rows on the level's 512-bit loads (whole tiles).
void untile_rows(const uint8_t* blocks, const uint8_t* scales, size_t rows, size_t count, size_t first, size_t last,
                 uint8_t* out_blocks, uint8_t* out_scales);
void mxfp4_row_to_bf16(const uint8_t* blocks, const uint8_t* scales, size_t in, bf16_t* direct, bf16_t* via_f32);
// Which of the 512-bit Q15 products the emulated kernels take (VNNI or not).
void set_q15_vnni(bool vnni) noexcept;
// Whether the emulated MoE's small groups take the Q8 products.
void set_q8_products(bool on) noexcept;
}  // namespace ossrt::cpu_avx512_emulated
#endif

namespace {

struct FastVariant {
  std::string name;
  const Backend* backend;
};

#if defined(OSSRT_TEST_AVX512_EMULATION)
// The AVX-512 level's table with its kernels compiled on SIMDe
// (cpu_avx512_emulated.cpp), reference entries elsewhere.
const Backend& avx512_emulated_backend() {
  static const Backend table = [] {
    Backend t = cpu_reference_backend();
    t.name = "cpu-avx512-emulated";
    cpu_avx512_emulated::fill_kernels(t);
    return t;
  }();
  return table;
}
#endif

// Every level this machine runs, and the AVX-512 kernels on SIMDe where the
// build has them (their attention entry is the AVX2 kernel, so they need
// AVX2 to run).
std::vector<FastVariant> fast_variants() {
  std::vector<FastVariant> variants;
  for (CpuIsa isa : {CpuIsa::avx2, CpuIsa::avx512}) {
    if (isa <= best_cpu_isa()) variants.push_back({cpu_isa_name(isa), &cpu_backend(isa)});
  }
#if defined(OSSRT_TEST_AVX512_EMULATION)
  if (best_cpu_isa() >= CpuIsa::avx2) variants.push_back({"avx512-emulated", &avx512_emulated_backend()});
#endif
  return variants;
}

using ossrt::test::random_bf16;
using ossrt::test::random_bytes;
using ossrt::test::random_floats;

// Fails at the first output farther from the reference than
// tolerance(reference value, largest |reference value|).
template <class Tolerance>
void check_within(const std::vector<float>& got, const std::vector<float>& want, const std::string& what,
                  Tolerance tolerance) {
  REQUIRE(got.size() == want.size());
  float largest = 0;
  for (float v : want) largest = std::max(largest, std::fabs(v));
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::fabs(got[i] - want[i]) > tolerance(want[i], largest)) {
      FAIL_CHECK(what << " index " << i << ": " << got[i] << " vs reference " << want[i] << " (largest " << largest
                      << ")");
      return;
    }
  }
}

// Same values up to float summation order: sums of up to a few hundred O(1)
// terms that cancel differ by ~1e-5 absolute; a wrong code, scale or row is
// off by 0.1 or more.
void check_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  check_within(got, want, what, [](float v, float) { return 1e-4f + 2e-5f * std::fabs(v); });
}

// Within what bf16-rounded inputs allow (Numerics::fast): their 2^-9
// relative roundings move the tests' outputs by at most 0.5% of the largest;
// a wrong row, code, scale or token is off by far more.
void check_bf16_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  check_within(got, want, what, [](float, float largest) { return 1e-2f * largest; });
}

// Q8 inputs (Numerics::fast's small expert groups where the CPU has
// AVX512-VNNI and VBMI, or AVX-VNNI on the AVX2 level: mxfp4_q8.h): each
// input moves by up to half a step of its 8-element lane's largest / 127 (bf16: by 2^-9 of itself), which
// moved the tests' outputs by up to 2.3% of the largest; a wrong row, code,
// scale or token is off by far more.
void check_q8_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  check_within(got, want, what, [](float, float largest) { return 4e-2f * largest; });
}

// Q15 inputs (Numerics::fast) against the reference's: the same values and
// exact integer block sums, the blocks' scaled sums added in another order.
// mlp1's inputs quantize identically; an activation that mlp1's float sums
// leave within a rounding of a step boundary may take the neighbouring value,
// which moves the outputs it enters by a step's products: a step is 1/16256
// of its block's largest value, and the outputs here moved by at most 1.2e-4
// of the largest output. A wrong code, scale, digit or block is off by 1e-3
// of the outputs or more (a dropped low digit: 64/16256 of each input).
void check_q15_close(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  check_within(got, want, what, [](float v, float largest) { return 1e-4f + 2e-5f * std::fabs(v) + 3e-4f * largest; });
}

}  // namespace

TEST_CASE("bf16 matmul kernels equal the reference over ragged shapes") {
  std::mt19937 rng(11);
  const Backend& ref = cpu_reference_backend();
  for (const FastVariant& variant : fast_variants()) {
    const Backend& fast = *variant.backend;
    // n from 8 takes the panel path: strips of 16 (AVX2) or 32 (AVX-512)
    // tokens with ragged tails, panels of 6 or 12 rows with 1..11-row tails,
    // jobs of 48 or 96 rows; inputs in vectors of 8 or 16 with scalar tails.
    for (size_t n : {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 25, 33, 47}) {
      for (size_t in : {1, 7, 8, 15, 16, 33, 47, 200}) {
        for (size_t out : {1, 5, 13, 16, 17, 23, 53, 107}) {
          const size_t x_stride = in + 3, y_stride = out + 2;
          const auto x = random_floats(n * x_stride, rng);
          const auto w = random_bf16(out * in, rng);
          const auto bias = random_bf16(out, rng);
          for (bool with_bias : {false, true}) {
            for (bool accumulate : {false, true}) {
              std::vector<float> y_ref = random_floats(n * y_stride, rng), y_fast = y_ref, y_bf16 = y_ref;
              MatmulArgs args{x.data(),     x_stride,   w.data(), with_bias ? bias.data() : nullptr,
                              y_ref.data(), y_stride,   n,        in,
                              out,          accumulate, false};
              ref.matmul_f32_bf16w(ref.self, args);
              args.y = y_fast.data();
              fast.matmul_f32_bf16w(fast.self, args);
              const std::string name = variant.name + " matmul n=" + std::to_string(n) + " in=" + std::to_string(in) +
                                       " out=" + std::to_string(out);
              check_close(y_fast, y_ref, name);
              // oneDNN's bf16 products where this CPU has them natively, else the same as exact.
              args.y = y_bf16.data();
              args.bf16_products = true;
              fast.matmul_f32_bf16w(fast.self, args);
              check_bf16_close(y_bf16, y_ref, name + " fast");
            }
          }
        }
      }
    }
  }
}

// One matmul call's inputs: n tokens (rows padded) times out x in bf16
// weights with a bias, into padded rows of y.
struct MatmulCase {
  size_t n, in, out, x_stride, y_stride;
  std::vector<float> x, y_start;
  std::vector<bf16_t> w, bias;

  MatmulCase(size_t tokens, size_t inputs, size_t outputs, std::mt19937& rng)
      : n(tokens), in(inputs), out(outputs), x_stride(inputs + 3), y_stride(outputs + 2) {
    x = random_floats(n * x_stride, rng);
    w = random_bf16(out * in, rng);
    bias = random_bf16(out, rng);
    y_start = random_floats(n * y_stride, rng);
  }

  // y after `matmul` runs the call.
  template <class Matmul>
  std::vector<float> run(Matmul matmul, bool accumulate, bool bf16_products) const {
    std::vector<float> y = y_start;
    matmul(MatmulArgs{x.data(), x_stride, w.data(), bias.data(), y.data(), y_stride, n, in, out, accumulate,
                      bf16_products});
    return y;
  }
  std::vector<float> run(const Backend& be, bool accumulate, bool bf16_products) const {
    return run([&](const MatmulArgs& args) { be.matmul_f32_bf16w(be.self, args); }, accumulate, bf16_products);
  }
  std::string name(const std::string& what) const {
    return what + " matmul n=" + std::to_string(n) + " in=" + std::to_string(in) + " out=" + std::to_string(out);
  }
};

TEST_CASE("few-token matmuls equal the reference, a row at a time and in tiles") {
  // 2 to 15 tokens take the rows a row at a time in passes of as many tokens
  // as stay in L1 (matmul_kernel.h's token_rows: bf16 products, and fp32
  // against weights up to 2^20), 37 rows ending in a short job of 5; fp32
  // against more weights take register tiles over chunks of the inputs
  // (few_token_rows): 1000 and 3001 inputs make 1 to 13 chunks, the last one
  // short, with a scalar tail after 3001's vectors.
  std::mt19937 rng(13);
  const Backend& ref = cpu_reference_backend();
  for (const FastVariant& variant : fast_variants()) {
    for (size_t n : {2, 3, 5, 8, 13}) {
      for (auto [in, out] : {std::pair<size_t, size_t>{1000, 37}, {3001, 37}, {1000, 1061}, {3001, 357}}) {
        const MatmulCase c(n, in, out, rng);
        const std::string name = c.name(variant.name);
        const auto want = c.run(ref, true, false);
        check_close(c.run(*variant.backend, true, false), want, name);
        check_bf16_close(c.run(*variant.backend, true, true), want, name + " fast");
      }
    }
  }
}

TEST_CASE("a token's matmul sums do not depend on the tokens beside it") {
  // A batched step multiplies every session's token in one call; each must
  // come out bit for bit as from a call of its own wherever the kernels take
  // a row at a time (matmul_kernel.h's token_rows), over passes of 1 to 4
  // tokens and every tail: inputs in vectors with scalar tails, partial
  // lines. In fp32 against small weights (the router's) on every level; in
  // bf16 products on the AVX-512 level, whose vdpbf16ps rows take every
  // count below 16 (the AVX2 level multiplies fp32 below 8 tokens and
  // oneDNN's bf16 products from 8, where the CPU has them).
  std::mt19937 rng(19);
  for (const FastVariant& variant : fast_variants()) {
    for (size_t n : {2, 3, 5, 8, 15}) {
      for (size_t in : {7, 45, 1000, 3001, 4096}) {
        const MatmulCase together(n, in, 37, rng);
        for (bool bf16_products : {false, true}) {
          if (bf16_products && variant.name.find("avx512") == std::string::npos) continue;
          const std::vector<float> y = together.run(*variant.backend, true, bf16_products);
          for (size_t t = 0; t < n; ++t) {
            MatmulCase alone = together;
            alone.n = 1;
            alone.x.assign(together.x.begin() + t * together.x_stride,
                           together.x.begin() + (t + 1) * together.x_stride);
            alone.y_start.assign(together.y_start.begin() + t * together.y_stride,
                                 together.y_start.begin() + (t + 1) * together.y_stride);
            const std::vector<float> y_alone = alone.run(*variant.backend, true, bf16_products);
            INFO(together.name(variant.name) << (bf16_products ? " bf16" : " fp32") << ", token " << t);
            CHECK(std::equal(y_alone.begin(), y_alone.begin() + together.out, y.begin() + t * together.y_stride));
          }
        }
      }
    }
  }
}

TEST_CASE("one-token matmuls sum the same wherever the weights sit in their cache lines") {
  // Decode reads each row in aligned lines and rebuilds its chunks from them
  // (bf16_dot_zmm.h's bf16_dot_row): every start within a line, rows that
  // end inside one, rows shorter than a line, and each row's first and last
  // lines partial, must give the sums of the same weights at any address.
  std::mt19937 rng(17);
  const Backend& ref = cpu_reference_backend();
  constexpr size_t kLineValues = 64 / sizeof(bf16_t);
  for (const FastVariant& variant : fast_variants()) {
    for (size_t in : {7, 32, 45, 200, 2880}) {
      const MatmulCase c(1, in, 9, rng);
      const auto want = c.run(ref, false, false);
      std::vector<bf16_t> storage(c.w.size() + 2 * kLineValues);
      const size_t to_line = (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64 / sizeof(bf16_t);
      for (bool bf16_products : {false, true}) {
        std::vector<float> first;
        for (size_t lead = 0; lead < kLineValues; ++lead) {
          bf16_t* w = storage.data() + to_line + lead;
          std::memcpy(w, c.w.data(), c.w.size() * sizeof(bf16_t));
          const auto got = c.run(
              [&](MatmulArgs args) {
                args.w = w;
                variant.backend->matmul_f32_bf16w(variant.backend->self, args);
              },
              false, bf16_products);
          const std::string name =
              c.name(variant.name) + (bf16_products ? " fast" : "") + " lead " + std::to_string(lead);
          if (bf16_products) {
            check_bf16_close(got, want, name);
          } else {
            check_close(got, want, name);
          }
          if (lead == 0) first = got;
          CHECK_MESSAGE(got == first, name);
        }
      }
    }
  }
}

TEST_CASE("bf16 matmul kernels equal the reference at prefill sizes: token and depth blocks, oneDNN chunks") {
  std::mt19937 rng(12);
  const Backend& ref = cpu_reference_backend();
  struct Shape {
    size_t n, in, out;
  };
  // 260 tokens: two token blocks of the panel product, the second of 4; 300
  // inputs: depth blocks (256 or 128) and a tail with a partial sum block; from 512
  // tokens oneDNN, 2600 rows of 1664 inputs: two of its 16 MiB chunks (2520 rows).
  // The reference once per case, every level against it (the reference is
  // most of this test's time under the sanitizers).
  for (Shape shape : {Shape{260, 300, 53}, Shape{520, 300, 53}, Shape{520, 1664, 2600}}) {
    const MatmulCase c(shape.n, shape.in, shape.out, rng);
    for (bool accumulate : {false, true}) {
      const std::vector<float> want = c.run(ref, accumulate, false);
      for (const FastVariant& variant : fast_variants()) {
        for (size_t threads : {1, 2}) {
          const ThreadCountScope scope(threads);
          check_close(c.run(*variant.backend, accumulate, false), want,
                      c.name(variant.name) + ", " + std::to_string(threads) + " threads");
        }
      }
    }
  }
}

// One MoE call's inputs: E experts of H x I, n tokens with k distinct experts each.
struct MoeCase {
  static constexpr size_t E = 9;
  size_t H, I, n, k;
  std::vector<uint8_t> w1_blocks, w1_scales, w2_blocks, w2_scales;
  std::vector<bf16_t> b1, b2;
  std::vector<float> x, weights, y_start;
  std::vector<int32_t> ids;
  bool tiled = false;  // w1 and w2 as a backend's tile_experts left them

  MoeCase(size_t hidden, size_t intermediate, size_t tokens, size_t k_, std::mt19937& rng)
      : H(hidden), I(intermediate), n(tokens), k(k_) {
    w1_blocks = random_bytes(E * 2 * I * H / 2, rng, 0, 255);
    w1_scales = random_bytes(E * 2 * I * H / 32, rng, 118, 128);
    b1 = random_bf16(E * 2 * I, rng, 0.5f);
    w2_blocks = random_bytes(E * H * I / 2, rng, 0, 255);
    w2_scales = random_bytes(E * H * I / 32, rng, 118, 126);
    b2 = random_bf16(E * H, rng, 0.1f);
    x = random_floats(n * H, rng);
    y_start = random_floats(n * H, rng);
    ids.resize(n * k);
    weights.resize(n * k);
    for (size_t t = 0; t < n; ++t) {
      // k distinct experts per token, in a token-dependent order.
      for (size_t s = 0; s < k; ++s) ids[t * k + s] = static_cast<int32_t>((t * 4 + s * 2) % E);
      for (size_t s = 0; s < k; ++s) weights[t * k + s] = 1.0f / static_cast<float>(k + s);
    }
  }

  // This case with its experts in `be`'s own layout; false where it has none.
  bool tile_for(const Backend& be) {
    tiled = be.tile_experts != nullptr &&
            be.tile_experts(be.self, w1_blocks.data(), w1_scales.data(), E, 2 * I, H / kMxfp4BlockElements) &&
            be.tile_experts(be.self, w2_blocks.data(), w2_scales.data(), E, H, I / kMxfp4BlockElements);
    return tiled;
  }

  // y after `moe` runs the call (with bf16 products allowed or not, Q15 inputs or not).
  template <class Moe>
  std::vector<float> run(Moe moe, bool bf16_products, bool q15_inputs = false) const {
    std::vector<float> scratch(n * k * 3 * I), y = y_start;
    const MoeArgs args{x.data(),
                       n,
                       H,
                       I,
                       k,
                       ids.data(),
                       weights.data(),
                       w1_blocks.data(),
                       w1_scales.data(),
                       b1.data(),
                       w2_blocks.data(),
                       w2_scales.data(),
                       b2.data(),
                       7.0f,
                       scratch.data(),
                       y.data(),
                       bf16_products,
                       q15_inputs,
                       tiled,
                       tiled};
    moe(args);
    return y;
  }
  std::vector<float> run(const Backend& be, bool bf16_products, bool q15_inputs = false) const {
    return run([&](const MoeArgs& args) { be.moe_mxfp4_f32(be.self, args); }, bf16_products, q15_inputs);
  }
  std::string name(const std::string& what) const {
    return what + " moe H=" + std::to_string(H) + " I=" + std::to_string(I) + " n=" + std::to_string(n) +
           " k=" + std::to_string(k);
  }
};

struct MoeShape {
  size_t hidden, intermediate;
};

TEST_CASE("MXFP4 MoE kernels equal the reference: tokens, k = 1..8 experts, widths; fast numerics") {
  std::mt19937 rng(12);
  const Backend& ref = cpu_reference_backend();
  using Shape = MoeShape;
  // Small groups take Q8 inputs (fast numerics; Q24 ones in exact) on the
  // AVX2 level where the CPU has AVX-VNNI, and on the AVX-512 level where it
  // has VNNI and VBMI, else bf16 or Q15 ones; on SIMDe, both.
  struct MoeVariant {
    const Backend* backend;
    std::string name;
    bool q8;
    int emulated_q8;  // -1: not the emulated level
  };
  std::vector<MoeVariant> variants;
  const bool native_q8 = cpu_features().avx512_vnni && cpu_features().avx512_vbmi;
  for (const FastVariant& variant : fast_variants()) {
    if (variant.name != "avx512-emulated") {
      variants.push_back(
          {variant.backend, variant.name, variant.name == "avx2" ? cpu_features().avx_vnni : native_q8, -1});
      continue;
    }
    for (int q8 : {0, 1}) variants.push_back({variant.backend, variant.name + (q8 ? " q8" : " bf16"), q8 == 1, q8});
  }
  // The reference once per case, every level against it.
  const auto check_moe = [&](Shape shape, size_t n, size_t k) {
    const MoeCase c(shape.hidden, shape.intermediate, n, k, rng);
    const std::vector<float> want = c.run(ref, false);
    // Q15 inputs, and oneDNN's bf16 products where this CPU has them natively.
    const std::vector<float> want_q15 = c.run(ref, false, true);
    for (const MoeVariant& variant : variants) {
#if defined(OSSRT_TEST_AVX512_EMULATION)
      if (variant.emulated_q8 >= 0) cpu_avx512_emulated::set_q8_products(variant.emulated_q8 == 1);
#endif
      check_close(c.run(*variant.backend, false), want, c.name(variant.name));
      const std::vector<float> fast = c.run(*variant.backend, true, true);
      const std::string what = c.name(variant.name + " fast");
      variant.q8 ? check_q8_close(fast, want_q15, what) : check_bf16_close(fast, want_q15, what);
    }
  };
  for (Shape shape : {Shape{32, 32}, Shape{64, 32}, Shape{96, 32}, Shape{64, 96}}) {
    // n = 24 and 41 give experts 8 or more tokens: the panel path.
    for (size_t n : {1, 2, 5, 9, 24, 41}) {
      for (size_t k = 1; k <= 8; ++k) check_moe(shape, n, k);
    }
  }
  // 267 tokens per expert: two token blocks of the panel product; 288
  // inputs to mlp1: depth blocks (256 or 128) and a tail; 2 x 288 rows of
  // mlp1 in bf16: tiles of 128 rows and a tail of 64.
  check_moe(Shape{288, 32}, 300, 8);
#if defined(OSSRT_TEST_AVX512_EMULATION)
  cpu_avx512_emulated::set_q8_products(true);
#endif
}

TEST_CASE("MoE on experts in 16-row tiles (AVX-512 byte products) equals it on plain rows, every path") {
  std::mt19937 rng(31);
  using Shape = MoeShape;
  std::vector<FastVariant> variants;
  for (const FastVariant& variant : fast_variants()) {
    if (variant.name.rfind("avx512", 0) == 0) variants.push_back(variant);
  }
#if defined(OSSRT_TEST_AVX512_EMULATION)
  cpu_avx512_emulated::set_q8_products(true);
#endif
  // Exact, fast, and Q15 inputs without bf16 products: the byte products on
  // the tiles for small groups; the panel, bf16 and integer tiles (n = 24)
  // on untiled rows. 288 x 32 takes mlp2 one output at a time.
  const struct { bool bf16_products, q15_inputs; } numerics[] = {{false, false}, {true, true}, {false, true}};
  size_t checked = 0;
  for (Shape shape : {Shape{32, 32}, Shape{64, 96}, Shape{96, 288}, Shape{288, 32}}) {
    for (size_t n : {1, 2, 5, 24}) {
      for (size_t k : {1, 4, 8}) {
        for (const FastVariant& variant : variants) {
          const MoeCase plain(shape.hidden, shape.intermediate, n, k, rng);
          MoeCase tiled = plain;
          if (!tiled.tile_for(*variant.backend)) continue;  // no VNNI and VBMI here
          CHECK(tiled.w1_blocks != plain.w1_blocks);
          for (const auto& [bf16_products, q15_inputs] : numerics) {
            // The tiles add each row's lane products in another order: mlp1's
            // outputs differ by float roundings (up to 1e-6 of the largest
            // output here), and where one sits at a quantization step's edge
            // its activation takes the neighbouring step (fast: up to 2e-4 of
            // the largest). A wrong row, code or scale is off by far more.
            const float tolerance = q15_inputs ? 1e-3f : 1e-6f;
            check_within(tiled.run(*variant.backend, bf16_products, q15_inputs),
                         plain.run(*variant.backend, bf16_products, q15_inputs),
                         plain.name(variant.name +
                                    (bf16_products ? " fast"
                                     : q15_inputs  ? " q15"
                                                   : " exact") +
                                    " tiled"),
                         [&](float v, float largest) { return 1e-4f + 2e-5f * std::fabs(v) + tolerance * largest; });
            ++checked;
          }
        }
      }
    }
  }
  // The emulated level always tiles.
  if (best_cpu_isa() >= CpuIsa::avx2) CHECK(checked > 0);
}

TEST_CASE("Q15 expert inputs (fast numerics): MoE kernels equal the reference's integer products") {
  std::mt19937 rng(15);
  const Backend& ref = cpu_reference_backend();
  using Shape = MoeShape;
  // Every level, and both 512-bit products on SIMDe whatever this CPU has
  // (the native level takes VNNI's where it exists).
  struct Q15Variant {
    const Backend* backend;
    std::string name;
    int emulated_vnni;  // -1: not the emulated level
  };
  std::vector<Q15Variant> variants;
  for (const FastVariant& variant : fast_variants()) variants.push_back({variant.backend, variant.name, -1});
#if defined(OSSRT_TEST_AVX512_EMULATION)
  if (best_cpu_isa() >= CpuIsa::avx2) {
    for (int vnni : {0, 1})
      variants.push_back({&avx512_emulated_backend(), vnni ? "avx512-emulated vnni" : "avx512-emulated no-vnni", vnni});
  }
#endif
  // Rows of 1, 2, 3, 4, 7, 9 and 14 blocks: for the 256-bit products a
  // pair, a last unpaired block, a group of 8 blocks and the rest (none,
  // one block, three pairs); for the 512-bit ones groups of 4 and the rest
  // (none, a pair, a pair and a block, a block). 288 x 32 takes mlp2 one
  // output at a time (wider than the scratch).
  for (Shape shape : {Shape{32, 32}, Shape{64, 96}, Shape{96, 288}, Shape{288, 32}, Shape{448, 64}, Shape{128, 224}}) {
    // 1 to 4 tokens per expert (each count of the token-blocked dot), and
    // 24 tokens: groups of 8 and more take the integer tiles (or, where
    // oneDNN has native bf16, the bf16 products of the dequantized inputs).
    for (size_t n : {1, 2, 3, 5, 24}) {
      for (size_t k : {1, 3, 4, 8}) {
        // The references once per case, every variant against them.
        const MoeCase c(shape.hidden, shape.intermediate, n, k, rng);
        const std::vector<float> want_q15 = c.run(ref, false, true), exact = c.run(ref, false);
        for (const Q15Variant& variant : variants) {
#if defined(OSSRT_TEST_AVX512_EMULATION)
          if (variant.emulated_vnni >= 0) cpu_avx512_emulated::set_q15_vnni(variant.emulated_vnni == 1);
#endif
          const std::vector<float> got = c.run(*variant.backend, false, true);
          check_q15_close(got, want_q15, c.name(variant.name + " q15"));
          // Quantized: not the fp32 outputs, but within what Q15 allows of them.
          CHECK(got != exact);
          check_bf16_close(got, exact, c.name(variant.name + " q15 vs fp32"));
        }
      }
    }
  }
}

#if defined(OSSRT_TEST_AVX512_EMULATION)
// `rows` random MXFP4 rows of `in` elements, scales 2^-9 .. 2^2.
struct RandomMxfp4Rows {
  std::vector<uint8_t> blocks, scales;
  RandomMxfp4Rows(size_t rows, size_t in, std::mt19937& rng)
      : blocks(rows * in / kMxfp4BlockElements * kMxfp4BlockBytes), scales(rows * in / kMxfp4BlockElements) {
    for (uint8_t& b : blocks) b = static_cast<uint8_t>(rng());
    for (uint8_t& s : scales) s = static_cast<uint8_t>(118 + rng() % 12);
  }
};

TEST_CASE("bf16 expert products (AVX512-BF16): ragged rows, 1 to 4 vectors, 1 or 3 terms, against exact sums") {
  std::mt19937 rng(22);
  // Rows of 1, 2, 3, 4, 5, 7, 9, 14 and 90 blocks: 4-block groups (in
  // pairs and alone) and the rest (none, a pair, a block, a pair and a
  // block).
  for (size_t in : {32, 64, 96, 128, 160, 224, 288, 448, 2880}) {
    const size_t rows = 13, block_count = in / kMxfp4BlockElements;
    const RandomMxfp4Rows m(rows, in, rng);
    for (size_t n : {1, 2, 3, 4}) {
      std::vector<std::vector<float>> inputs(n);
      for (auto& input : inputs) input = random_floats(in, rng, 3.0f);
      const size_t first = 2, last = rows;
      // One term: the inputs rounded to bf16 (Numerics::fast); three: the
      // inputs exactly (Numerics::exact).
      for (size_t terms : {1, 3}) {
        std::vector<float> got(n * last, 0.0f);
        cpu_avx512_emulated::bf16_rows_times_vectors(m.blocks.data(), m.scales.data(), first, last, in, terms, inputs,
                                                     got.data());
        for (size_t t = 0; t < n; ++t) {
          for (size_t r = first; r < last; ++r) {
            // The products are exact in fp32: only the order of the fp32
            // sums differs, within 1e-6 of sum |term|.
            double want = 0, magnitude = 0;
            for (size_t j = 0; j < in; ++j) {
              const float input = terms == 1 ? bf16_to_f32(f32_to_bf16(inputs[t][j])) : inputs[t][j];
              const double term =
                  static_cast<double>(mxfp4_element(m.blocks.data() + r * block_count * kMxfp4BlockBytes,
                                                    m.scales.data() + r * block_count, j)) *
                  input;
              want += term;
              magnitude += std::fabs(term);
            }
            INFO("in " << in << ", " << n << " vectors, " << terms << " terms: vector " << t << ", row " << r);
            CHECK(std::fabs(got[t * last + r] - want) <= 1e-6 * magnitude);
          }
        }
      }
    }
  }
}

// Checks got[t * last + r] (rows [first, last)) against the Q8 or Q24
// products of row r of m and inputs[t]: exact per lane (integer products,
// then the lane's scale and the block's power), and Q24 within its steps of
// the fp32 sums.
void check_q8_products(const RandomMxfp4Rows& m, size_t in, size_t digits,
                       const std::vector<std::vector<float>>& inputs, size_t first, size_t last,
                       const std::vector<float>& got) {
  const size_t block_count = in / kMxfp4BlockElements;
  for (size_t t = 0; t < inputs.size(); ++t) {
    for (size_t r = first; r < last; ++r) {
      double want = 0, magnitude = 0, fp32_sum = 0, q24_bound = 0;
      for (size_t lane = 0; lane < in / kQ8LaneElements; ++lane) {
        const float* x = inputs[t].data() + lane * kQ8LaneElements;
        int32_t values[kQ8LaneElements];
        float scale;
        if (digits == 1) {
          int8_t bytes[kQ8LaneElements];
          scale = quantize_q8_lane(x, bytes);
          for (size_t i = 0; i < kQ8LaneElements; ++i) values[i] = bytes[i];
        } else {
          scale = quantize_q24_lane(x, values);
        }
        const size_t b = lane * kQ8LaneElements / kMxfp4BlockElements;
        const double power = std::ldexp(1.0, m.scales[r * block_count + b] - 127);
        double largest = 0;
        for (size_t i = 0; i < kQ8LaneElements; ++i) largest = std::max(largest, std::fabs(double(x[i])));
        long long sum = 0;
        for (size_t i = 0; i < kQ8LaneElements; ++i) {
          const size_t j = lane * kQ8LaneElements + i - b * kMxfp4BlockElements;
          const uint8_t byte = m.blocks[(r * block_count + b) * kMxfp4BlockBytes + j / 2];
          const uint8_t code = j % 2 == 0 ? byte & 0x0f : byte >> 4;
          sum += static_cast<long long>(2 * kFp4Values[code]) * values[i];
          fp32_sum += static_cast<double>(kFp4Values[code]) * power * x[i];
          q24_bound += std::fabs(kFp4Values[code]) * power * largest * 0x1p-22;
        }
        const double term = static_cast<double>(sum) * scale / 2 * power;
        want += term;
        magnitude += std::fabs(term);
      }
      INFO(digits << " digits, in " << in << ", " << inputs.size() << " vectors: vector " << t << ", row " << r);
      CHECK(std::fabs(got[t * last + r] - want) <= 1e-6 * magnitude + 1e-30);
      // Q24: each input within a step (1 / kQ24Max, about 2^-23, of its lane's largest) of its fp32
      // value, doubled for the float product that makes it.
      if (digits == 3) CHECK(std::fabs(got[t * last + r] - fp32_sum) <= q24_bound + 1e-6 * magnitude);
    }
  }
}

// n inputs of `in` elements over 6 binary orders, so that Q24's small digits matter.
std::vector<std::vector<float>> inputs_over_orders(size_t n, size_t in, std::mt19937& rng) {
  std::vector<std::vector<float>> inputs(n);
  for (auto& input : inputs) {
    input = random_floats(in, rng, 3.0f);
    for (size_t i = 0; i < in; ++i) input[i] *= std::ldexp(1.0f, -static_cast<int>(rng() % 6));
  }
  return inputs;
}

// Rows of 1, 2, 3, 4, 5, 7, 9, 14 and 90 blocks: 4-block groups (in pairs
// and alone) and the rest (none, a pair, a block, a pair and a block), 1 to
// 4 vectors, multiplied by multiply(blocks, scales, first, last, in,
// inputs, out) and checked against exact lane sums.
template <class Multiply>
void check_q8_rows(std::mt19937& rng, size_t digits, Multiply multiply) {
  for (size_t in : {32, 64, 96, 128, 160, 224, 288, 448, 2880}) {
    const size_t rows = 13;
    const RandomMxfp4Rows m(rows, in, rng);
    for (size_t n : {1, 2, 3, 4}) {
      const std::vector<std::vector<float>> inputs = inputs_over_orders(n, in, rng);
      const size_t first = 2, last = rows;
      std::vector<float> got(n * last, 0.0f);
      multiply(m.blocks.data(), m.scales.data(), first, last, in, inputs, got.data());
      check_q8_products(m, in, digits, inputs, first, last, got);
    }
  }
}

TEST_CASE("Q8 and Q24 expert products (VNNI, VBMI): ragged rows, 1 to 4 vectors, against exact lane sums") {
  std::mt19937 rng(23);
  for (size_t digits : {1, 3}) {
    check_q8_rows(rng, digits,
                  [&](const uint8_t* blocks, const uint8_t* scales, size_t first, size_t last, size_t in,
                      const std::vector<std::vector<float>>& inputs, float* out) {
                    cpu_avx512_emulated::q8_rows_times_vectors(blocks, scales, first, last, in, digits, inputs, out);
                  });
  }
}

TEST_CASE("the AVX2 level's Q8 and Q24 expert products (vpmaddubsw, AVX-VNNI): ragged rows, 1-4 vectors, exact sums") {
  if (best_cpu_isa() < CpuIsa::avx2) return;  // the level does not run here
  std::mt19937 rng(25);
  std::vector<bool> products = {false};
  if (cpu_features().avx_vnni) products.push_back(true);
  for (bool vnni : products) {
    for (size_t digits : {1, 3}) {
      INFO((vnni ? "AVX-VNNI" : "vpmaddubsw") << ", " << digits << " digits");
      check_q8_rows(rng, digits,
                    [&](const uint8_t* blocks, const uint8_t* scales, size_t first, size_t last, size_t in,
                        const std::vector<std::vector<float>>& inputs, float* out) {
                      cpu_avx2_test::q8_rows_times_vectors(blocks, scales, first, last, in, digits, inputs, out, vnni);
                    });
    }
  }
}

TEST_CASE("MXFP4 tiles: untiling gives the plain rows back; the tiles' Q8 and Q24 products equal the rows'") {
  std::mt19937 rng(24);
  // 16, 37 (two tiles and 5 rows after them) and 7 rows (no tile); rows of 1 to 90 blocks.
  for (size_t rows : {16, 37, 7}) {
    for (size_t in : {32, 96, 160, 448, 2880}) {
      const RandomMxfp4Rows m(rows, in, rng);
      const size_t count = in / kMxfp4BlockElements;
      RandomMxfp4Rows tiled = m;
      std::vector<uint8_t> scratch(mxfp4_tile_scratch_bytes(count));
      tile_mxfp4_matrix(tiled.blocks.data(), tiled.scales.data(), rows, count, scratch.data());
      if (rows >= kMxfp4TileRows) CHECK(tiled.blocks != m.blocks);
      // Any row range back, tiles' rows and those after, from a tile's first row or not; plainly and
      // on the AVX-512 level.
      for (size_t first : {rows / 3, size_t{0}}) {
        for (bool level : {false, true}) {
          const size_t last = rows;
          std::vector<uint8_t> blocks((last - first) * count * kMxfp4BlockBytes), scales((last - first) * count);
          const auto untile = level ? cpu_avx512_emulated::untile_rows : untile_mxfp4_rows;
          untile(tiled.blocks.data(), tiled.scales.data(), rows, count, first, last, blocks.data(), scales.data());
          CHECK(std::equal(blocks.begin(), blocks.end(), m.blocks.begin() + first * count * kMxfp4BlockBytes));
          CHECK(std::equal(scales.begin(), scales.end(), m.scales.begin() + first * count));
        }
      }
      for (size_t digits : {1, 3}) {
        for (size_t n : {1, 2, 4}) {
          const std::vector<std::vector<float>> inputs = inputs_over_orders(n, in, rng);
          // All rows, and from the second tile on (where there is one).
          for (size_t from : {size_t{0}, std::min(rows, kMxfp4TileRows)}) {
            std::vector<float> got(n * rows, 0.0f);
            cpu_avx512_emulated::q8_rows_times_vectors(tiled.blocks.data(), tiled.scales.data(), from, rows, in, digits,
                                                       inputs, got.data(), rows);
            check_q8_products(m, in, digits, inputs, from, rows, got);
          }
        }
      }
    }
  }
}

TEST_CASE("MXFP4 rows decode to bf16 directly as through fp32: every code byte under every scale") {
  // 16 blocks hold the 256 code bytes; each block takes every scale in turn.
  constexpr size_t kBlocks = 16, in = kBlocks * kMxfp4BlockElements;
  std::vector<uint8_t> blocks(kBlocks * kMxfp4BlockBytes);
  for (size_t i = 0; i < blocks.size(); ++i) blocks[i] = static_cast<uint8_t>(i);
  for (size_t s = 0; s < 256; ++s) {
    std::vector<uint8_t> scales(kBlocks);
    for (size_t b = 0; b < kBlocks; ++b) scales[b] = static_cast<uint8_t>(s + b);
    std::vector<bf16_t> direct(in), via_f32(in);
    cpu_avx512_emulated::mxfp4_row_to_bf16(blocks.data(), scales.data(), in, direct.data(), via_f32.data());
    for (size_t j = 0; j < in; ++j) {
      const float got = bf16_to_f32(direct[j]), want = bf16_to_f32(via_f32[j]);
      INFO("first scale " << s << ", element " << j);
      if (std::isnan(want)) {
        CHECK(std::isnan(got));
      } else {
        CHECK(direct[j] == via_f32[j]);
      }
    }
  }
}

TEST_CASE("integer prefill tiles (fast numerics): any row range, 1 to 9 vectors, against exact block sums") {
  std::mt19937 rng(21);
  for (size_t in : {32, 96, 320}) {
    const size_t rows = 45, block_count = in / kMxfp4BlockElements;
    const RandomMxfp4Rows m(rows, in, rng);
    const std::vector<uint8_t>&blocks = m.blocks, &scales = m.scales;
    for (size_t n : {1, 3, 4, 9}) {
      std::vector<std::vector<float>> inputs(n);
      for (auto& input : inputs) input = random_floats(in, rng, 3.0f);
      // Ranges of whole tiles, a tile and a rest, less than a tile, an inner range.
      for (const auto& range : {std::pair<size_t, size_t>{0, 32}, {0, 45}, {40, 45}, {7, 30}}) {
        // Named copies, not a structured binding: INFO's lambda captures them (clang 14 cannot).
        const size_t first = range.first, last = range.second;
        // AVX512-VNNI's vpdpwssd products, bit for bit the 256-bit vpmaddwd ones.
        std::vector<float> got(n * last, 0.0f), got_256(n * last, 0.0f);
        cpu_avx512_emulated::q15_rows_times_vectors(blocks.data(), scales.data(), first, last, in, inputs, got.data());
        cpu_avx512_emulated::set_q15_vnni(false);
        cpu_avx512_emulated::q15_rows_times_vectors(blocks.data(), scales.data(), first, last, in, inputs,
                                                    got_256.data());
        cpu_avx512_emulated::set_q15_vnni(true);
        CHECK(std::memcmp(got.data(), got_256.data(), got.size() * sizeof(float)) == 0);
        for (size_t t = 0; t < n; ++t) {
          for (size_t r = first; r < last; ++r) {
            // Exact per block: integer products, then the two scales.
            double want = 0;
            for (size_t b = 0; b < block_count; ++b) {
              int16_t values[kQ15BlockElements];
              const float scale = quantize_q15_block(inputs[t].data() + b * kQ15BlockElements, values);
              long long sum = 0;
              for (size_t j = 0; j < kQ15BlockElements; ++j) {
                const uint8_t byte = blocks[(r * block_count + b) * kMxfp4BlockBytes + j / 2];
                const uint8_t code = j % 2 == 0 ? byte & 0x0f : byte >> 4;
                sum += static_cast<long long>(2 * kFp4Values[code]) * values[j];
              }
              want += static_cast<double>(sum) / 2 * scale * e8m0_to_f32(scales[r * block_count + b]);
            }
            INFO("in " << in << ", " << n << " vectors, rows " << first << "-" << last << ": vector " << t << ", row "
                       << r);
            CHECK(got[t * last + r] == doctest::Approx(want).epsilon(1e-5).scale(1.0));
          }
        }
      }
    }
  }
}

TEST_CASE(
    "bf16 products' tiles, gathers and scatters in the MoE and matmul kernels, products computed one element at a "
    "time") {
  // What oneDNN computes on CPUs with native bf16, here on any CPU: the
  // inputs' rounding, the tiles' widening and the outputs' scatter are the
  // kernel's own; also when a product fails and the kernel computes it itself.
  std::mt19937 rng(14);
  const Backend& ref = cpu_reference_backend();
  struct Shape {
    size_t hidden, intermediate, n, k;
  };
  for (Shape shape : {Shape{64, 96, 41, 4}, Shape{288, 32, 300, 8}, Shape{160, 320, 24, 3}}) {
    const MoeCase c(shape.hidden, shape.intermediate, shape.n, shape.k, rng);
    const std::vector<float> want = c.run(ref, false);
    for (bool products_fail : {false, true}) {
      const auto moe = [&](const MoeArgs& args) {
        cpu_avx512_emulated::moe_with_scalar_bf16_products(args, products_fail);
      };
      const std::vector<float> got = c.run(moe, true);
      check_bf16_close(got, want, c.name(products_fail ? "fallback" : "scalar products"));
      // Rounded inputs, so not the exact kernel's sums.
      CHECK(got != c.run(moe, false));
    }
  }
  // The dense matmul: tiles of the weights in place, the last one ragged.
  struct MatmulShape {
    size_t n, in, out;
  };
  for (MatmulShape shape : {MatmulShape{8, 7, 5}, MatmulShape{33, 200, 130}, MatmulShape{260, 64, 300}}) {
    const MatmulCase c(shape.n, shape.in, shape.out, rng);
    for (bool accumulate : {false, true}) {
      const std::vector<float> want = c.run(ref, accumulate, false);
      for (bool products_fail : {false, true}) {
        const std::vector<float> got = c.run(
            [&](const MatmulArgs& args) { cpu_avx512_emulated::matmul_with_scalar_bf16_products(args, products_fail); },
            accumulate, true);
        check_bf16_close(got, want, c.name(products_fail ? "fallback" : "scalar products"));
        CHECK(got != want);
      }
    }
  }
}
#endif

TEST_CASE("attention kernels equal the reference: decode and prefill, windows, rings, head groups, cache types") {
  std::mt19937 rng(13);
  const Backend& ref = cpu_reference_backend();
  struct Shape {
    size_t q_heads, kv_heads, head_dim;
  };
  struct Case {
    size_t n, first_position, window, capacity;
    bool ring;
  };
  // Dense caches hold every position; rings hold window + n - 1 (+ slack) slots.
  const Case cases[] = {
      {1, 0, 0, 8, false},       {1, 6, 0, 8, false},    {1, 2500, 0, 2600, false},  // decode, split over chunks
      {1, 1030, 0, 1031, false}, {1, 40, 5, 7, true},    {1, 2047, 128, 200, true},  // ring wraps
      {3, 0, 0, 8, false},       {37, 11, 0, 64, false}, {37, 11, 5, 41, true},      // prefill
      {9, 300, 64, 80, true},    {70, 0, 0, 70, false},
  };
  std::vector<std::pair<Case, KvType>> cases_by_type;
  for (KvType kv_type : {KvType::f32, KvType::bf16})
    for (const Case& c : cases) cases_by_type.emplace_back(c, kv_type);
  for (const FastVariant& variant : fast_variants()) {
    const Backend& fast = *variant.backend;
    // Groups of 8 and 16 heads take the interleaved-query scores (scores8x8);
    // a group of 12 takes it for 8 heads and dot8 for the other 4. Values are
    // accumulated for quads of heads, then a pair, then a last odd head
    // (groups of 3 and 7), in column blocks with a tail (head_dim 40). At 16
    // lanes (AVX-512) head sizes of 32 and 48 take the same tiles with tails
    // (a group of 12: 8 heads by scores8x8, 4 by dot8); 8, 24 and 40 go to
    // the AVX2 kernel. Groups of 8 and 16 heads (16x64, 32x32) with a bf16
    // cache take bf16 products of the scores where asked and available.
    for (Shape shape :
         {Shape{4, 2, 16}, Shape{8, 1, 8}, Shape{16, 2, 64}, Shape{6, 3, 24}, Shape{4, 4, 12}, Shape{24, 2, 16},
          Shape{32, 2, 8}, Shape{6, 2, 40}, Shape{14, 2, 40}, Shape{12, 1, 32}, Shape{6, 2, 48}, Shape{32, 2, 32}}) {
      const size_t width = shape.kv_heads * shape.head_dim, q_width = shape.q_heads * shape.head_dim;
      const auto sinks = random_bf16(shape.q_heads, rng, 2.0f);
      for (const auto& [c, kv_type] : cases_by_type) {
        const auto k_rows = random_floats(c.capacity * width, rng);
        const auto v_rows = random_floats(c.capacity * width, rng);
        // The caches filled by the reference store (dense, slot = position),
        // which rounds to bf16 for a bf16 cache.
        std::vector<uint8_t> k_cache(c.capacity * width * kv_element_bytes(kv_type)), v_cache(k_cache.size());
        ref.kv_store_f32(ref.self, KvStoreArgs{k_rows.data(), v_rows.data(), width, c.capacity, 0, width,
                                               k_cache.data(), v_cache.data(), c.capacity, false, kv_type, nullptr});
        if (kv_type == KvType::bf16) {
          bf16_t stored;
          std::memcpy(&stored, v_cache.data() + (width - 1) * sizeof stored, sizeof stored);
          REQUIRE(stored == f32_to_bf16(v_rows[width - 1]));
        }
        const size_t q_stride = q_width + 5;
        const auto q = random_floats(c.n * q_stride, rng, 2.0f);
        std::vector<float> out_ref(c.n * q_width), out_fast(c.n * q_width);
        AttentionArgs args{q.data(),       q_stride,      k_cache.data(),
                           v_cache.data(), c.capacity,    c.ring,
                           kv_type,        c.n,           c.first_position,
                           c.window,       shape.q_heads, shape.kv_heads,
                           shape.head_dim, sinks.data(),  1.0f / std::sqrt(float(shape.head_dim)),
                           out_ref.data(), q_width,       nullptr,
                           false};
        ref.attention_f32(ref.self, args);
        // Under bf16 products the AVX-512 level with AVX512-BF16 scores decode
        // queries rounded to bf16 (groups of 8 heads, a bf16 cache): the
        // reference on those rounded queries is then the exact answer, as each
        // product of two bf16 values is exact in fp32.
        const bool rounds_queries =
            kv_type == KvType::bf16 && c.n == 1 && shape.head_dim % 16 == 0 &&
            (shape.q_heads / shape.kv_heads) % 8 == 0 &&
            (variant.name == "avx512-emulated" || (variant.name == "avx512" && bf16_dot_products_pay()));
        std::vector<float> out_rounded_ref = out_ref;
        if (rounds_queries) {
          std::vector<float> q_rounded = q;
          for (float& v : q_rounded) v = bf16_to_f32(f32_to_bf16(v));
          AttentionArgs rounded = args;
          rounded.q = q_rounded.data();
          rounded.out = out_rounded_ref.data();
          ref.attention_f32(ref.self, rounded);
        }
        args.out = out_fast.data();
        // Decode splits its keys into a chunk per thread.
        for (size_t threads : {1, 2, 3}) {
          const ThreadCountScope scope(threads);
          for (bool bf16_products : {false, true}) {
            args.bf16_products = bf16_products;
            fast.attention_f32(fast.self, args);
            check_close(out_fast, bf16_products ? out_rounded_ref : out_ref,
                        variant.name + " attention heads " + std::to_string(shape.q_heads) + "/" +
                            std::to_string(shape.kv_heads) + "x" + std::to_string(shape.head_dim) +
                            " n=" + std::to_string(c.n) + " at " + std::to_string(c.first_position) + " window " +
                            std::to_string(c.window) + (kv_type == KvType::bf16 ? " bf16 cache" : " f32 cache") +
                            (bf16_products ? " bf16 products" : "") + ", " + std::to_string(threads) + " threads");
          }
        }
      }
    }
  }
}

TEST_CASE("the CPU backend is chosen by level, and a level the CPU lacks is refused") {
  CHECK(cpu_isa_from_name("avx2") == CpuIsa::avx2);
  CHECK_FALSE(cpu_isa_from_name("sse9").has_value());
  CHECK(default_cpu_isa() <= best_cpu_isa());
  Backend backend{};
  const char* message = "";
  REQUIRE(resolve_backend("cpu", backend, &message));
  CHECK(std::string(backend.name) == cpu_backend(default_cpu_isa()).name);
  REQUIRE(resolve_backend("cpu-scalar", backend, &message));
  CHECK(std::string(backend.name) == "cpu-reference");
  for (CpuIsa isa : {CpuIsa::avx2, CpuIsa::avx512}) {
    const std::string name = std::string("cpu-") + cpu_isa_name(isa);
    CHECK(resolve_backend(name.c_str(), backend, &message) == (isa <= best_cpu_isa()));
  }
  CHECK_FALSE(resolve_backend("cpu-sse9", backend, &message));
  CHECK(std::string(message).find("unknown backend") != std::string::npos);
}

TEST_CASE(
    "the CPU's vendor is read from cpuid: Intel cores ask for every lone stream's lines ahead, others only for "
    "512-bit fp32 rows, and only others take vdpbf16ps products") {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, vendor;
  while (vendor.empty() && std::getline(cpuinfo, line)) {
    if (line.rfind("vendor_id", 0) == 0) vendor = line.substr(line.find(':') + 2);
  }
  if (vendor.empty()) return;  // not Linux on x86: nothing to compare against
  CHECK(cpu_features().intel == (vendor == "GenuineIntel"));
  const bool intel = vendor == "GenuineIntel";
  CHECK(lone_stream_ahead_bytes(RowWork::bf16_products) == (intel ? 4096u : 0u));
  CHECK(lone_stream_ahead_bytes(RowWork::fp32_ymm) == (intel ? 4096u : 0u));
  CHECK(lone_stream_ahead_bytes(RowWork::fp32_zmm) == (intel ? 4096u : 2048u));
  CHECK(bf16_dot_products_pay() == (cpu_features().avx512_bf16 && vendor != "GenuineIntel"));
}

TEST_CASE("cpuid's AVX-VNNI bit is the kernel's flag in /proc/cpuinfo") {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, flags;
  while (flags.empty() && std::getline(cpuinfo, line)) {
    if (line.rfind("flags", 0) == 0) flags = line + " ";
  }
  if (flags.empty()) return;  // not Linux on x86: nothing to compare against
  const bool listed = flags.find(" avx_vnni ") != std::string::npos;
  if (listed) CHECK(cpu_features().avx_vnni);
  // Kernels list the flag since 5.x: from 6 on, its absence means the CPU lacks it.
  std::ifstream release("/proc/sys/kernel/osrelease");
  int major = 0;
  release >> major;
  if (major >= 6) CHECK(cpu_features().avx_vnni == listed);
}

TEST_CASE("the kernel profiler files calls by shape and keeps shapes beyond its table in one row") {
  KernelProfiler profiler(cpu_reference_backend());
  const Backend& timed = profiler.table();
  std::vector<float> x(4, 1.0f), y(80);
  std::vector<bf16_t> w(80 * 4, f32_to_bf16(0.5f));
  // 70 shapes, the first one twice: 63 rows of their own, the rest in one.
  for (size_t out = 1; out <= 70; ++out) {
    const size_t repeats = out == 1 ? 2 : 1;
    for (size_t r = 0; r < repeats; ++r)
      timed.matmul_f32_bf16w(timed.self,
                             MatmulArgs{x.data(), 4, w.data(), nullptr, y.data(), out, 1, 4, out, false, false});
  }
  CHECK(y[69] == doctest::Approx(2.0f));  // the call reached the inner kernel
  const std::vector<KernelTiming> rows = profiler.totals();
  REQUIRE(rows.size() == 64);
  uint64_t calls = 0;
  for (const KernelTiming& row : rows) {
    calls += row.calls;
    if (row.kernel == "matmul 1x4") {
      CHECK(row.calls == 2);
      CHECK(row.bytes == doctest::Approx(2 * 1 * 4 * 2.0));
      CHECK(row.flops == doctest::Approx(2 * 2 * 4.0));
    }
    if (row.kernel == "other kernels") CHECK(row.calls == 70 - 63);
  }
  CHECK(calls == 71);
  profiler.reset();
  CHECK(profiler.totals().empty());
}
