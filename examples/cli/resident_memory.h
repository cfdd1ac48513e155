// Resident memory of this process, as the kernel reports it.
#pragma once

#include <cstddef>

namespace ossrt_cli {

struct ResidentMemory {
  size_t current_bytes = 0;  // VmRSS
  size_t peak_bytes = 0;     // VmHWM
};

// Zeros where /proc/self/status is unavailable.
ResidentMemory resident_memory();

}  // namespace ossrt_cli
