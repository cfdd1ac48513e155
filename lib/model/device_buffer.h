// Owning handle of memory allocated by a backend.
#pragma once

#include <cstddef>
#include <utility>

#include "backend/backend.h"

namespace ossrt {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // Allocates `bytes` (zero-filled); check ok() afterwards.
  DeviceBuffer(const Backend& backend, size_t bytes)
      : backend_(&backend), ptr_(backend.alloc(backend.self, bytes)), bytes_(ptr_ ? bytes : 0) {}
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      reset();
      backend_ = std::exchange(other.backend_, nullptr);
      ptr_ = std::exchange(other.ptr_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  bool ok() const noexcept { return ptr_ != nullptr; }
  size_t bytes() const noexcept { return bytes_; }
  template <class T = float>
  T* as() const noexcept {
    return static_cast<T*>(ptr_);
  }
  void reset() noexcept {
    if (ptr_ != nullptr) backend_->release(backend_->self, ptr_, bytes_);
    ptr_ = nullptr;
    bytes_ = 0;
  }

 private:
  const Backend* backend_ = nullptr;
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace ossrt
