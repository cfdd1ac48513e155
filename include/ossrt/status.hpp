// Status values and Result<T>: how every ossrt call reports failure.
//
// No ossrt function throws across the library boundary or aborts the host:
// each fallible call returns a Status (or a Result<T>) carrying a code that a
// program can branch on and a message that names the file, tensor, key or
// argument involved.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace ossrt {

// Codes are stable: values are never renumbered, new ones are appended.
enum class StatusCode : int32_t {
  ok = 0,
  invalid_argument = 1,    // a caller-supplied value is out of range or inconsistent
  invalid_state = 2,       // the object cannot do this now
  not_found = 3,           // a file or directory does not exist
  io_error = 4,            // open/read/mmap failed for another reason
  out_of_memory = 5,       // an allocation failed
  unsupported = 6,         // valid request this build or backend does not support
  invalid_config = 7,      // config.json missing, malformed, or with an invalid value
  invalid_checkpoint = 8,  // a safetensors file is truncated or its header is malformed
  unsupported_dtype = 9,   // a tensor has a dtype ossrt does not know
  tensor_mismatch = 10,    // a tensor is missing, unexpected, or has the wrong dtype/shape
  invalid_token = 11,      // a token id is outside the vocabulary
  context_overflow = 12,   // the session's context length would be exceeded
  cancelled = 13,          // the caller cancelled the operation
  internal = 14,           // a bug in ossrt; the message says where
  buffer_too_small = 15,   // a caller buffer is too small; the size needed is reported
  permission_denied = 16,  // a file or directory exists but may not be read (EACCES, EPERM)
  device_error = 17,       // a GPU is absent, unusable, or failed during a call; the message names it
};

// Short snake_case name of a code ("invalid_checkpoint"); never null.
const char* status_code_name(StatusCode code) noexcept;

class [[nodiscard]] Status {
 public:
  Status() noexcept = default;  // ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status success() noexcept { return Status(); }

  bool ok() const noexcept { return code_ == StatusCode::ok; }
  explicit operator bool() const noexcept { return ok(); }
  StatusCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  // "invalid_checkpoint: model.safetensors: header length 9000 exceeds file size 120".
  std::string to_string() const;

 private:
  StatusCode code_ = StatusCode::ok;
  std::string message_;
};

// Either a value or a non-ok Status. Accessing value() of a failed Result is a
// caller bug; check ok() first.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT: implicit by design
    if (status_.ok()) status_ = Status(StatusCode::internal, "Result built from an ok Status without a value");
  }

  bool ok() const noexcept { return value_.has_value(); }
  const Status& status() const noexcept { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace ossrt
