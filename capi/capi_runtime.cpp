// ossrt_runtime_*: translation to ossrt::Runtime.
#include <string>

#include "capi_common.h"

using namespace ossrt;

extern "C" {

ossrt_status ossrt_runtime_create(ossrt_runtime** runtime_out) {
  if (runtime_out == nullptr) return capi::invalid_argument("ossrt_runtime_create: runtime_out is NULL");
  *runtime_out = nullptr;
  return capi::barrier("ossrt_runtime_create", [&] {
    auto* handle = new ossrt_runtime{Runtime::create()};
    *runtime_out = capi::adopt(handle);
    return capi::report(Status::success());
  });
}

void ossrt_runtime_destroy(ossrt_runtime* runtime) {
  capi::destroy(runtime);
}

ossrt_status ossrt_runtime_set_log_callback(ossrt_runtime* runtime, ossrt_log_callback callback, void* user_data,
                                            ossrt_log_level min_level) {
  if (!capi::live(runtime)) {
    return capi::invalid_argument("ossrt_runtime_set_log_callback: runtime is NULL or released");
  }
  if (min_level < OSSRT_LOG_DEBUG || min_level > OSSRT_LOG_ERROR) {
    return capi::invalid_argument("ossrt_runtime_set_log_callback: min_level is not an OSSRT_LOG_* value");
  }
  return capi::barrier("ossrt_runtime_set_log_callback", [&] {
    LogCallback forward;
    if (callback != nullptr) {
      forward = [callback, user_data](LogLevel level, std::string_view message) {
        const std::string terminated(message);  // the C side gets a NUL-terminated copy
        callback(static_cast<ossrt_log_level>(level), terminated.c_str(), terminated.size(), user_data);
      };
    }
    runtime->runtime->set_log_callback(std::move(forward), static_cast<LogLevel>(min_level));
    return capi::report(Status::success());
  });
}

}  // extern "C"
