#include "ossrt/status.hpp"

namespace ossrt {

const char* status_code_name(StatusCode code) noexcept {
  switch (code) {
    case StatusCode::ok:
      return "ok";
    case StatusCode::invalid_argument:
      return "invalid_argument";
    case StatusCode::invalid_state:
      return "invalid_state";
    case StatusCode::not_found:
      return "not_found";
    case StatusCode::io_error:
      return "io_error";
    case StatusCode::out_of_memory:
      return "out_of_memory";
    case StatusCode::unsupported:
      return "unsupported";
    case StatusCode::invalid_config:
      return "invalid_config";
    case StatusCode::invalid_checkpoint:
      return "invalid_checkpoint";
    case StatusCode::unsupported_dtype:
      return "unsupported_dtype";
    case StatusCode::tensor_mismatch:
      return "tensor_mismatch";
    case StatusCode::invalid_token:
      return "invalid_token";
    case StatusCode::context_overflow:
      return "context_overflow";
    case StatusCode::cancelled:
      return "cancelled";
    case StatusCode::internal:
      return "internal";
    case StatusCode::buffer_too_small:
      return "buffer_too_small";
    case StatusCode::permission_denied:
      return "permission_denied";
    case StatusCode::device_error:
      return "device_error";
  }
  return "unknown_status";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  return std::string(status_code_name(code_)) + ": " + message_;
}

}  // namespace ossrt
