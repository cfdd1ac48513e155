// The sampler's random draw: counter-based, so a token's draw depends only on
// (seed, position), never on call order or threads.
#pragma once

#include <cstdint>

namespace ossrt {

// SplitMix64 finaliser over (seed, position): a uniform double in [0, 1).
inline double sampling_uniform(uint64_t seed, uint64_t position) noexcept {
  uint64_t z = seed + 0x9e3779b97f4a7c15ull * (position + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

}  // namespace ossrt
