// e^x in the level's vectors, ISA-generic (one instance per level, in its
// namespace): attention's softmax and the experts' SwiGLU. Include once per
// level's kernel file, after the level's Simd.
#pragma once

#include <iterator>

namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE {

namespace {

// e^x for every lane, within 2 ulp of std::exp for x in [-87.3, 88]; lanes
// below -87.3 give 0 (std::exp gives a denormal under 1.2e-38 there). Range
// reduction x = n ln2 + r with ln2 split in two, then a degree-6 polynomial.
inline Simd::Vec exp_lanes(Simd::Vec x) {
  constexpr float kLowest = -87.3f;
  // 1.5 * 2^23: adding and subtracting it rounds to the nearest integer (|x| < 2^22).
  constexpr float kRounder = 12582912.0f;
  constexpr float kPolynomial[] = {1.9875691500e-4f, 1.3981999507e-3f, 8.3334519073e-3f,
                                   4.1665795894e-2f, 1.6666665459e-1f, 5.0000001201e-1f};
  const Simd::Vec clamped = Simd::min(Simd::max(x, Simd::set1(kLowest)), Simd::set1(88.0f));
  const Simd::Vec n =
      Simd::sub(Simd::fmadd(clamped, Simd::set1(1.44269504088896341f), Simd::set1(kRounder)), Simd::set1(kRounder));
  Simd::Vec r = Simd::fmadd(n, Simd::set1(-0.693359375f), clamped);
  r = Simd::fmadd(n, Simd::set1(2.12194440e-4f), r);
  Simd::Vec p = Simd::set1(kPolynomial[0]);
  for (size_t c = 1; c < std::size(kPolynomial); ++c) p = Simd::fmadd(p, r, Simd::set1(kPolynomial[c]));
  p = Simd::fmadd(p, Simd::mul(r, r), Simd::add(r, Simd::set1(1.0f)));
  return Simd::zero_below(Simd::times_power_of_two(p, n), x, kLowest);
}

}  // namespace

}  // namespace ossrt::OSSRT_CPU_KERNEL_NAMESPACE
