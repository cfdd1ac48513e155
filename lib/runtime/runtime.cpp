#include "ossrt/runtime.hpp"

namespace ossrt {

const char* log_level_name(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warning:
      return "warning";
    case LogLevel::error:
      return "error";
  }
  return "unknown";
}

std::shared_ptr<Runtime> Runtime::create() {
  return std::shared_ptr<Runtime>(new Runtime());
}

void Runtime::set_log_callback(LogCallback callback, LogLevel min_level) noexcept {
  // Taking the mutex waits for a message being delivered to the old callback.
  std::lock_guard lock(mutex_);
  callback_ = std::move(callback);
  min_level_ = min_level;
  active_ = static_cast<bool>(callback_);
}

bool Runtime::enabled(LogLevel level) const noexcept {
  std::lock_guard lock(mutex_);
  return active_ && level >= min_level_;
}

void Runtime::log(LogLevel level, std::string_view message) const noexcept {
  std::lock_guard lock(mutex_);
  if (!active_ || level < min_level_) return;
  try {
    callback_(level, message);
  } catch (...) {
  }
}

}  // namespace ossrt
