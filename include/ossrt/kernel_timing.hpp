// KernelTiming: one row of a model's kernel profile. A leaf header, so that the
// backends' profiler can produce it without depending on the Model API.
#pragma once

#include <cstdint>
#include <string>

namespace ossrt {

// One row of Model::kernel_profile: a kernel at one shape, e.g.
// "matmul 5120x2880" (out x in), "moe 2880x2880 top-4", "attention window 128".
struct KernelTiming {
  std::string kernel;
  uint64_t calls = 0;
  double seconds = 0;  // wall time inside the calls (on the calling thread)
  double bytes = 0;    // weight and KV-cache bytes the calls read (KV store: write); activations not counted
  double flops = 0;    // floating-point operations, an FMA counted as two
};

}  // namespace ossrt
