// ossrt/devices.hpp: the registry's devices, and a copy-bandwidth probe that
// runs through any backend's table.
#include "ossrt/devices.hpp"

#include <algorithm>
#include <chrono>

#include "backend/backend.h"
#include "util/errors.h"

namespace ossrt {

std::vector<DeviceInfo> list_devices() noexcept {
  constexpr size_t kMaxDevices = 64;
  BackendDevice found[kMaxDevices];
  const size_t count = std::min(list_backend_devices(found, kMaxDevices), kMaxDevices);
  std::vector<DeviceInfo> devices;
  try {
    for (size_t i = 0; i < count; ++i)
      devices.push_back({found[i].name, found[i].description, found[i].memory_bytes, found[i].free_bytes});
  } catch (...) {  // out of memory: the devices listed so far
  }
  return devices;
}

Result<double> measure_copy_bandwidth(const std::string& backend, size_t bytes, int repeats) noexcept {
  return guard("measure_copy_bandwidth", [&]() -> Result<double> {
    if (bytes == 0 || repeats <= 0)
      return error(StatusCode::invalid_argument, "measure_copy_bandwidth: bytes and repeats must be positive");
    Backend table{};
    if (Status s = resolve_backend_status(backend.c_str(), table); !s.ok()) return s;
    const char* message = "";
    struct Owned {
      Backend& table;
      void* from = nullptr;
      void* to = nullptr;
      size_t bytes;
      ~Owned() {
        table.release(table.self, from, bytes);
        table.release(table.self, to, bytes);
        release_backend(table);
      }
    } owned{table, table.alloc(table.self, bytes), table.alloc(table.self, bytes), bytes};
    if (owned.from == nullptr || owned.to == nullptr)
      return error(StatusCode::out_of_memory, "measure_copy_bandwidth: cannot allocate 2 x %zu bytes", bytes);
    const auto wait = [&]() -> Status {
      if (table.synchronize != nullptr && !table.synchronize(table.self, &message))
        return error(StatusCode::device_error, "backend %s failed: %s", table.name, message);
      return Status::success();
    };
    double best_seconds = 0;
    // One untimed copy first: it maps the pages (or warms the device).
    for (int run = -1; run < repeats; ++run) {
      if (Status s = wait(); !s.ok()) return s;
      const auto start = std::chrono::steady_clock::now();
      table.copy(table.self, owned.to, owned.from, bytes);
      if (Status s = wait(); !s.ok()) return s;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (run >= 0 && (best_seconds == 0 || seconds < best_seconds)) best_seconds = seconds;
    }
    return 2.0 * static_cast<double>(bytes) / best_seconds / 1e9;
  });
}

}  // namespace ossrt
