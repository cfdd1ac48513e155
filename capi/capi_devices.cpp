// ossrt_device_*: translation to ossrt::list_devices.
#include <cstdio>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "capi_common.h"

using namespace ossrt;

namespace ossrt::capi {

namespace {

// The backend layer fills fixed buffers of these very sizes, so a name that
// does not fit is a bug, reported rather than cut (a cut backend name would
// select another device or none).
template <size_t N>
bool copy_text(const std::string& text, char (&out)[N]) noexcept {
  if (text.size() >= N) return false;
  std::memcpy(out, text.c_str(), text.size() + 1);
  return true;
}

}  // namespace

}  // namespace ossrt::capi

extern "C" {

void ossrt_device_info_init(ossrt_device_info* info) {
  capi::init_output(info);
}

ossrt_status ossrt_device_count(size_t* count_out) {
  if (count_out == nullptr) return capi::invalid_argument("ossrt_device_count: count_out is NULL");
  *count_out = list_devices().size();
  return capi::report(Status::success());
}

ossrt_status ossrt_device_get_info(size_t index, ossrt_device_info* info) {
  // Every caller reads backend at least.
  if (ossrt_status st = capi::check_output(info, "ossrt_device_get_info", "info", 2); st != OSSRT_STATUS_OK) return st;
  return capi::barrier("ossrt_device_get_info", [&] {
    const std::vector<DeviceInfo> devices = list_devices();
    char message[160];
    if (index >= devices.size()) {
      std::snprintf(message, sizeof message,
                    "ossrt_device_get_info: index %zu, but this build and machine list %zu devices", index,
                    devices.size());
      return capi::invalid_argument(message);
    }
    const DeviceInfo& device = devices[index];
    ossrt_device_info out{};
    if (!capi::copy_text(device.backend, out.backend) || !capi::copy_text(device.description, out.description)) {
      std::snprintf(message, sizeof message, "ossrt_device_get_info: device %zu's names do not fit the struct", index);
      return capi::report(Status(StatusCode::internal, message));
    }
    out.memory_bytes = device.memory_bytes;
    out.free_bytes = device.free_bytes;
    capi::copy_versioned(out, info);
    return capi::report(Status::success());
  });
}

}  // extern "C"
