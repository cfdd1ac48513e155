// Library-level entry points and the thread-local error message.
#include <string>

#include "capi_common.h"

namespace ossrt::capi {
namespace {
thread_local std::string last_error;
}

// report() passes C++ codes through as C statuses and ossrt_status_string
// names every C status up to the last: the two enums must end alike.
static_assert(OSSRT_STATUS_DEVICE_ERROR == static_cast<int>(StatusCode::device_error),
              "a StatusCode was added: add its OSSRT_STATUS_ value and move ossrt_status_string's bound");

ossrt_status report(const Status& status) noexcept {
  try {
    // The message alone: the code is the call's return value, and callers
    // print ossrt_status_string() beside the message (it was there twice).
    last_error = status.message();
  } catch (...) {
    last_error.clear();  // no memory for the message; the code still says what happened
  }
  return static_cast<ossrt_status>(status.code());
}

ossrt_status invalid_argument(const char* message) noexcept {
  try {
    return report(Status(StatusCode::invalid_argument, message));
  } catch (...) {
    return OSSRT_STATUS_INVALID_ARGUMENT;
  }
}

}  // namespace ossrt::capi

extern "C" {

int32_t ossrt_abi_version(void) {
  return OSSRT_ABI_VERSION;
}

const char* ossrt_version_string(void) {
  return ossrt::version_string();
}

const char* ossrt_status_string(ossrt_status status) {
  if (status < 0 || status > OSSRT_STATUS_DEVICE_ERROR) return "unknown_status";
  return ossrt::status_code_name(static_cast<ossrt::StatusCode>(status));
}

const char* ossrt_last_error_message(void) {
  return ossrt::capi::last_error.c_str();
}

}  // extern "C"
