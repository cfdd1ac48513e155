// The compute devices this build and machine offer (GPUs; the CPU is always
// there) and a probe of a backend's memory bandwidth.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ossrt/status.hpp"

namespace ossrt {

struct DeviceInfo {
  std::string backend;      // the ModelOptions::backend name that selects it, e.g. "cuda:0"
  std::string description;  // e.g. "NVIDIA H200, compute capability 9.0"
  uint64_t memory_bytes = 0;
  uint64_t free_bytes = 0;  // free when listed
};

// Every GPU the build can run on. Never fails: a build without CUDA, a
// machine without a driver or GPU, lists none. Thread-safe.
std::vector<DeviceInfo> list_devices() noexcept;

// The memory bandwidth of `backend` (a ModelOptions::backend name): copies
// of `bytes` between two of its buffers, the best of `repeats`, counted as
// bytes read plus bytes written per second, in GB/s. For a GPU this is the
// device-memory roofline of decode. Failure: invalid_argument (unknown
// backend, bytes or repeats 0), device_error (GPU absent or failed),
// out_of_memory. Thread-safe.
Result<double> measure_copy_bandwidth(const std::string& backend, size_t bytes, int repeats) noexcept;

}  // namespace ossrt
