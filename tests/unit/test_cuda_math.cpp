// The CUDA kernels' scalar arithmetic (backend/cuda/device_math.h), compiled
// here for the host, against the reference's: the same functions run in
// device code, so a difference here is a difference on the GPU.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "util/numeric.h"
#include "util/q15.h"

#include "backend/cuda/call_signature.h"
#include "backend/cuda/device_math.h"

using namespace ossrt;
namespace cm = ossrt::cuda_math;

namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Equal bit for bit, or both NaN (a NaN's payload is not the contract).
bool same_float(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || bits(a) == bits(b);
}

// A sweep over many values: how many differ from the reference, and the
// first that does (one check per sweep, not one per value).
class Mismatches {
 public:
  // `describe` streams the value and both results; called for the first mismatch only.
  template <class Describe>
  void note(bool same, Describe describe) {
    if (same || count_++ > 0) return;
    std::ostringstream text;
    describe(text);
    first_ = text.str();
  }
  void check(const char* what) const {
    CHECK_MESSAGE(count_ == 0, what << ": " << count_ << " differ, the first: " << first_);
  }

 private:
  size_t count_ = 0;
  std::string first_;
};

// A Q15 block quantized the way the CUDA kernel's warp does it
// (moe.cu quantize_block): each lane its element, the |max| reduced over the
// lanes by xor shuffles, all-finite by a warp vote.
float warp_quantize_q15_block(const float* x, int16_t* v) {
  std::array<float, 32> amax;
  bool all_finite = true;
  for (size_t lane = 0; lane < 32; ++lane) {
    amax[lane] = std::fabs(x[lane]);
    all_finite = all_finite && std::isfinite(x[lane]);
  }
  for (size_t offset = 16; offset > 0; offset /= 2) {
    std::array<float, 32> shuffled;
    for (size_t lane = 0; lane < 32; ++lane) shuffled[lane] = std::fmax(amax[lane], amax[lane ^ offset]);
    amax = shuffled;
  }
  const float inverse = cm::q15_inverse(amax[0]);
  const bool usable = cm::q15_usable(all_finite, inverse);
  for (size_t lane = 0; lane < 32; ++lane) v[lane] = usable ? cm::q15_code(x[lane], inverse) : int16_t{0};
  return usable ? cm::q15_scale(amax[0]) : cm::q15_scale_unusable(all_finite);
}

}  // namespace

TEST_CASE("cuda device math: FP4 codes and E8M0 scales equal the reference tables") {
  static_assert(cm::kQ15Max == kQ15Max);
  for (unsigned code = 0; code < 16; ++code) {
    INFO("code " << code);
    CHECK(bits(cm::fp4_value(code)) == bits(kFp4Values[code]));  // -0 for code 8 too
    CHECK(cm::fp4_twice_value(code) == static_cast<int>(2 * kFp4Values[code]));
  }
  for (unsigned scale = 0; scale < 256; ++scale) {
    INFO("scale byte " << scale);
    CHECK(bits(cm::e8m0_scale(static_cast<uint8_t>(scale))) == bits(e8m0_to_f32(static_cast<uint8_t>(scale))));
  }
}

TEST_CASE("cuda device math: bf16 conversions equal the reference's, ties, zeros, infinities and NaN included") {
  // Widening: every bf16 value.
  Mismatches widened;
  for (uint32_t b = 0; b <= 0xffff; ++b) {
    const float got = cm::bf16_to_float(static_cast<uint16_t>(b)), want = bf16_to_f32(static_cast<uint16_t>(b));
    widened.note(bits(got) == bits(want), [&](std::ostream& o) { o << "bf16 " << b << ": " << got << " vs " << want; });
  }
  widened.check("bf16 -> float");
  // Narrowing: exact ties (low half 0x8000) to even and odd, one ulp either
  // side, the largest finite floats (round to infinity), subnormals, ±0, ±inf,
  // quiet and signalling NaNs, and random bit patterns.
  std::vector<uint32_t> inputs = {0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, 0x7fc00000u, 0xffc00000u,
                                  0x7f800001u, 0x7fbfffffu, 0xff800001u, 0x7f7fffffu, 0xff7fffffu, 0x7f7f8000u,
                                  0x7f7f7fffu, 0x00000001u, 0x00008000u, 0x00018000u, 0x807fffffu};
  for (uint32_t high : {0x3f80u, 0x3f81u, 0xbf80u, 0xbf81u, 0x0001u, 0x4049u}) {
    for (uint32_t low : {0x7fffu, 0x8000u, 0x8001u, 0x0000u, 0xffffu}) inputs.push_back(high << 16 | low);
  }
  std::mt19937 rng(3);
  for (int i = 0; i < 200000; ++i) inputs.push_back(static_cast<uint32_t>(rng()));
  Mismatches narrowed;
  for (uint32_t u : inputs) {
    const float x = from_bits(u);
    const uint16_t got = cm::float_to_bf16(x), want = f32_to_bf16(x);
    narrowed.note(got == want,
                  [&](std::ostream& o) { o << "float bits " << u << ": bf16 " << got << " vs reference " << want; });
  }
  narrowed.check("float -> bf16");
  CHECK(cm::float_to_bf16(from_bits(0x3f808000u)) == 0x3f80);  // a tie to even stays
  CHECK(cm::float_to_bf16(from_bits(0x3f818000u)) == 0x3f82);  // a tie to odd rounds up
  CHECK(std::isnan(cm::bf16_to_float(cm::float_to_bf16(std::numeric_limits<float>::signaling_NaN()))));
}

TEST_CASE("cuda device math: SwiGLU equals the reference's on finite and infinite inputs") {
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> wide(-20.0f, 20.0f);
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<std::pair<float, float>> inputs = {{0, 0},      {7, 7},     {-7, -7},   {7.0001f, -7.0001f},
                                                 {inf, 1},    {1, inf},   {1, -inf},  {-inf, 1},
                                                 {-90, 0.5f}, {90, 0.5f}, {-0.0f, -1}};
  for (int i = 0; i < 100000; ++i) inputs.emplace_back(wide(rng), wide(rng));
  for (float limit : {7.0f, 1.5f}) {
    Mismatches m;
    for (const auto& input : inputs) {
      const float glu = input.first, linear = input.second;  // not a binding: the lambda captures them
      const float got = cm::swiglu(glu, linear, limit), want = swiglu(glu, linear, limit);
      m.note(same_float(got, want), [&](std::ostream& o) {
        o << "swiglu(" << glu << ", " << linear << ", " << limit << "): " << got << " vs reference " << want;
      });
    }
    m.check("swiglu");
  }
}

// The reference's std::min / std::clamp keep a NaN pre-activation NaN (so a
// diverged token stays visibly non-finite, as q15.h intends); fminf/fmaxf
// would replace it by the limit.
TEST_CASE("cuda device math: SwiGLU propagates NaN as the reference does") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (const auto& input : {std::pair{nan, 1.0f}, std::pair{1.0f, nan}, std::pair{nan, nan}}) {
    const float glu = input.first, linear = input.second;  // not a binding: INFO captures them
    INFO("swiglu(" << glu << ", " << linear << ")");
    CHECK(std::isnan(swiglu(glu, linear, 7.0f)));
    CHECK(std::isnan(cm::swiglu(glu, linear, 7.0f)));
  }
}

TEST_CASE("cuda device math: the per-lane Q15 functions quantize blocks bit for bit as quantize_q15_block") {
  std::mt19937 rng(5);
  std::vector<std::array<float, 32>> blocks;
  // Random blocks over many magnitudes, signs mixed.
  for (float spread : {1e-30f, 1e-6f, 1.0f, 3.0f, 1e4f, 1e30f}) {
    std::uniform_real_distribution<float> dist(-spread, spread);
    for (int i = 0; i < 2000; ++i) {
      std::array<float, 32> b;
      for (float& x : b) x = dist(rng);
      blocks.push_back(b);
    }
  }
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::array<float, 32> zeros{};
  blocks.push_back(zeros);
  std::array<float, 32> negative_zeros;
  negative_zeros.fill(-0.0f);
  blocks.push_back(negative_zeros);
  // amax 16256 makes the inverse 1: halves are exact ties, to even.
  std::array<float, 32> ties;
  for (size_t j = 0; j < 32; ++j) ties[j] = static_cast<float>(j) - 15.5f;
  ties[31] = 16256.0f;
  blocks.push_back(ties);
  const size_t random_blocks = blocks.size() - 3;
  // A non-finite element in a random block.
  for (float special : {inf, -inf, nan}) {
    for (size_t at : {0, 17, 31}) {
      std::array<float, 32> b = blocks[rng() % random_blocks];
      b[at] = special;
      blocks.push_back(b);
    }
  }
  // Tiny blocks: from amax 1e-40 (subnormal) to 4.8e-35 16256 / amax
  // overflows (no usable inverse), from 5e-35 it does not.
  for (float amax : {1e-40f, -1e-40f, 1e-35f, 4.7e-35f, 5e-35f, 1e-34f}) {
    std::array<float, 32> b;
    for (float& x : b) x = amax * static_cast<float>(rng() % 7) / 7.0f;
    b[rng() % 32] = amax;
    blocks.push_back(b);
  }
  for (const auto& b : blocks) {
    std::array<int16_t, 32> got{}, want{};
    const float got_scale = warp_quantize_q15_block(b.data(), got.data());
    const float want_scale = quantize_q15_block(b.data(), want.data());
    INFO("block starting " << b[0] << ", " << b[1] << ", ... amax scale " << want_scale);
    CHECK(same_float(got_scale, want_scale));
    CHECK(got == want);
  }
}

TEST_CASE("cuda device math: a Q15 block's scaled products equal the reference's expression") {
  std::mt19937 rng(6);
  std::uniform_int_distribution<int32_t> products(-(1 << 27), 1 << 27);
  std::uniform_real_distribution<float> scale(1e-6f, 10.0f);
  Mismatches m;
  for (unsigned row_scale = 0; row_scale < 256; ++row_scale) {
    for (int i = 0; i < 50; ++i) {
      const int32_t p = i == 0 ? 0 : products(rng);
      const float s = i == 1 ? 0.0f : scale(rng);
      // The reference's form (cpu_ref/moe.cpp mxfp4_row_dot_q15).
      const float want = static_cast<float>(p) * std::ldexp(s, static_cast<int>(row_scale) - 128);
      const float got = cm::q15_block_result(p, s, static_cast<uint8_t>(row_scale));
      m.note(same_float(got, want), [&](std::ostream& o) {
        o << p << " x " << s << " at scale byte " << row_scale << ": " << got << " vs reference " << want;
      });
    }
  }
  m.check("q15_block_result");
}

TEST_CASE("cuda device math: fp16 conversion equals f16_to_f32 on every bit pattern; Q8_0 scales at odd addresses") {
  size_t wrong = 0;
  for (uint32_t pattern = 0; pattern <= 0xffff; ++pattern) {
    const auto h = static_cast<uint16_t>(pattern);
    if (bits(cm::f16_to_float(h)) != bits(f16_to_f32(h))) ++wrong;  // NaN payloads and signed zeros too
  }
  CHECK(wrong == 0);
  // A block's scale is two little-endian bytes wherever the block starts.
  const uint8_t bytes[5] = {0x00, 0x01, 0xbc, 0x00, 0x3c};
  CHECK(cm::q8_0_scale(bytes + 1) == f16_to_f32(0xbc01));
  CHECK(cm::q8_0_scale(bytes + 3) == 1.0f);
}

TEST_CASE("cuda device math: a Q8_0 block's scaled Q15 products equal the reference's expression") {
  std::mt19937 rng(8);
  // Whole blocks' sums: up to 32 * 128 * 16256 in magnitude (not all exact as floats).
  std::uniform_int_distribution<int32_t> products(-32 * 128 * 16256, 32 * 128 * 16256);
  std::uniform_int_distribution<int> halves(0, 0x7bff);
  std::uniform_real_distribution<float> x_scale(1e-8f, 1.0f);
  Mismatches m;
  for (int i = 0; i < 20000; ++i) {
    const int32_t p = i == 0 ? 0 : products(rng);
    const float s = i == 1 ? 0.0f : x_scale(rng);
    const float d = f16_to_f32(static_cast<uint16_t>(halves(rng) | (i % 2) << 15));
    // The reference's form (cpu_ref/q8_0.cpp).
    const float want = static_cast<float>(p) * (s * d);
    const float got = cm::q8_0_q15_block_result(p, s, d);
    m.note(same_float(got, want),
           [&](std::ostream& o) { o << p << " x " << s << " x " << d << ": " << got << " vs reference " << want; });
  }
  m.check("q8_0_q15_block_result");
}

TEST_CASE("cuda device math: merged online-softmax states equal the one-pass softmax; an empty state adds nothing") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> score_dist(-30.0f, 30.0f), value_dist(0.0f, 1.0f);
  // A state over scores[first, last): its max, denominator and exp-weighted sum, in double, as one pass.
  struct State {
    float max, denominator, weighted;
  };
  const auto state_of = [](const std::vector<float>& scores, const std::vector<float>& values, size_t first,
                           size_t last) {
    double max = -INFINITY, denominator = 0, weighted = 0;
    for (size_t i = first; i < last; ++i) max = std::max(max, static_cast<double>(scores[i]));
    for (size_t i = first; i < last; ++i) {
      const double p = std::exp(scores[i] - max);
      denominator += p;
      weighted += p * values[i];
    }
    return State{static_cast<float>(max), static_cast<float>(denominator), static_cast<float>(weighted)};
  };
  for (int trial = 0; trial < 2000; ++trial) {
    const size_t count = 1 + rng() % 200, split = rng() % (count + 1);
    std::vector<float> scores(count), values(count);
    for (size_t i = 0; i < count; ++i) {
      scores[i] = score_dist(rng);
      values[i] = value_dist(rng);
    }
    const State left = state_of(scores, values, 0, split), right = state_of(scores, values, split, count);
    const State whole = state_of(scores, values, 0, count);
    const cm::MergeFactors f = cm::softmax_merge_factors({left.max, left.denominator}, {right.max, right.denominator});
    const float denominator = left.denominator * f.left + right.denominator * f.right;
    const float weighted = left.weighted * f.left + right.weighted * f.right;
    INFO(count << " scores split at " << split);
    CHECK(f.merged_max == whole.max);
    CHECK(denominator == doctest::Approx(whole.denominator).epsilon(1e-6));
    CHECK(weighted == doctest::Approx(whole.weighted).epsilon(1e-6));
  }
  // A state with no keys (max -inf) contributes 0; two of them merge to one.
  const cm::MergeFactors empty_left = cm::softmax_merge_factors({-INFINITY, 0.0f}, {2.5f, 3.0f});
  CHECK(empty_left.merged_max == 2.5f);
  CHECK(empty_left.left == 0.0f);
  CHECK(empty_left.right == 1.0f);
  const cm::MergeFactors empty_right = cm::softmax_merge_factors({-1.0f, 1.0f}, {-INFINITY, 0.0f});
  CHECK(empty_right.merged_max == -1.0f);
  CHECK(empty_right.left == 1.0f);
  CHECK(empty_right.right == 0.0f);
  const cm::MergeFactors both_empty = cm::softmax_merge_factors({-INFINITY, 0.0f}, {-INFINITY, 0.0f});
  CHECK(both_empty.merged_max == -INFINITY);
  CHECK(both_empty.left == 0.0f);
  CHECK(both_empty.right == 0.0f);
}

TEST_CASE("cuda device math: router_prefers selects the reference's top-k, the lower id first on ties") {
  const Backend& ref = cpu_reference_backend();
  std::mt19937 rng(8);
  for (size_t experts : {4, 5, 8, 17, 32}) {
    for (size_t k = 1; k <= 4; ++k) {
      for (int trial = 0; trial < 200; ++trial) {
        std::vector<float> logits(experts);
        for (float& g : logits) g = 0.5f * static_cast<float>(rng() % 4);  // ties everywhere
        std::vector<int32_t> want(k);
        std::vector<float> weights(k);
        ref.router_topk_f32(ref.self, logits.data(), 1, experts, k, want.data(), weights.data());
        // The CUDA kernel's selection loop (moe.cu router_kernel).
        std::vector<int32_t> got(k);
        for (size_t s = 0; s < k; ++s) {
          int best = -1;
          for (size_t e = 0; e < experts; ++e) {
            bool taken = false;
            for (size_t p = 0; p < s; ++p) taken |= got[p] == static_cast<int32_t>(e);
            if (!taken && cm::router_prefers(logits[e], static_cast<int>(e), best < 0 ? 0.0f : logits[best], best))
              best = static_cast<int>(e);
          }
          got[s] = best;
        }
        INFO(experts << " experts, k " << k);
        CHECK(got == want);
      }
    }
  }
  CHECK(cm::router_prefers(1.0f, 3, 1.0f, 5));
  CHECK_FALSE(cm::router_prefers(1.0f, 5, 1.0f, 3));
  CHECK(cm::router_prefers(-1e30f, 9, 0.0f, -1));  // anything beats no choice
}

TEST_CASE("cuda device math: tiles_covering is the ceiling of extent / tile") {
  CHECK(cm::tiles_covering(0, 64) == 0);
  CHECK(cm::tiles_covering(1, 64) == 1);
  CHECK(cm::tiles_covering(64, 64) == 1);
  CHECK(cm::tiles_covering(65, 64) == 2);
  CHECK(cm::tiles_covering(201088, 64) == 3142);
  for (size_t tile : {1, 7, 16, 64}) {
    for (size_t extent = 0; extent < 300; ++extent) {
      const size_t tiles = cm::tiles_covering(extent, tile);
      INFO(extent << " / " << tile);
      CHECK(tiles * tile >= extent);
      CHECK((tiles == 0 || (tiles - 1) * tile < extent));
    }
  }
}

// A recorded step is replayed only for calls with equal signatures: every
// argument counts except the step's position, which the replay takes from
// its bracket.
TEST_CASE("cuda call signatures: every argument but the position distinguishes a call") {
  float buffer[8] = {};
  AttentionArgs base{};
  base.q = buffer;
  base.n = 1;
  base.first_position = 10;
  base.q_heads = 8;
  base.scale = 0.125f;
  const uint64_t reference = cuda::signature_of(base);
  AttentionArgs moved = base;
  moved.first_position = 11;
  CHECK(cuda::signature_of(moved) == reference);
  AttentionArgs changed = base;
  changed.window = 128;
  CHECK(cuda::signature_of(changed) != reference);
  changed = base;
  changed.q = buffer + 1;
  CHECK(cuda::signature_of(changed) != reference);
  changed = base;
  changed.kv_type = KvType::bf16;
  CHECK(cuda::signature_of(changed) != reference);

  KvStoreArgs store{};
  store.n = 1;
  store.first_position = 3;
  KvStoreArgs later = store;
  later.first_position = 4;
  CHECK(cuda::signature_of(store) == cuda::signature_of(later));
  later.ring = true;
  CHECK(cuda::signature_of(store) != cuda::signature_of(later));

  MatmulArgs a{}, b{};
  a.n = b.n = 1;
  CHECK(cuda::signature_of(a) == cuda::signature_of(b));
  b.accumulate = true;
  CHECK(cuda::signature_of(a) != cuda::signature_of(b));
  // Q8_0 weights: their own entry, the blocks' pointer in place of args.w.
  const uint8_t blocks[68] = {};
  CHECK(cuda::matmul_signature(cuda::Entry::matmul_q8_0, a, blocks) != cuda::signature_of(a));
  CHECK(cuda::matmul_signature(cuda::Entry::matmul_q8_0, a, blocks) !=
        cuda::matmul_signature(cuda::Entry::matmul_q8_0, a, blocks + 34));
  CHECK(cuda::matmul_signature(cuda::Entry::matmul_q8_0, a, blocks) !=
        cuda::matmul_signature(cuda::Entry::matmul_q8_0, b, blocks));
  MoeArgs m{}, q{};
  q.q15_inputs = true;
  CHECK(cuda::signature_of(m) != cuda::signature_of(q));
  // The same values under another entry are another call.
  CHECK(cuda::CallSignature(1).add(size_t{4}).value() != cuda::CallSignature(2).add(size_t{4}).value());
}
