#include "resident_memory.h"

#include <fstream>
#include <string>

namespace ossrt_cli {

ResidentMemory resident_memory() {
  ResidentMemory m;
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    size_t kib = 0;
    if (key == "VmRSS:" && status >> kib) m.current_bytes = kib * 1024;
    if (key == "VmHWM:" && status >> kib) m.peak_bytes = kib * 1024;
  }
  return m;
}

}  // namespace ossrt_cli
