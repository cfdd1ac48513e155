// Runtime: what a host application configures once for the models it loads —
// today the log sink. There is no global state: each Runtime has its own
// callback, and a model logs to the Runtime it was loaded with (or nowhere).
//
// Thread rules: every member function is safe to call from any thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string_view>

namespace ossrt {

enum class LogLevel { debug = 0, info = 1, warning = 2, error = 3 };
const char* log_level_name(LogLevel level) noexcept;  // "debug", "info", ...

// Receives one complete message (no trailing newline), on the thread that
// logs. Calls are serialised per Runtime. Must not call set_log_callback.
using LogCallback = std::function<void(LogLevel level, std::string_view message)>;

class Runtime {
 public:
  static std::shared_ptr<Runtime> create();

  // Replaces the callback (an empty one silences the runtime); messages below
  // min_level are dropped. When it returns, the previous callback is not
  // running and will not be called again, so its captured state may go.
  void set_log_callback(LogCallback callback, LogLevel min_level = LogLevel::info) noexcept;

  // Whether a message at `level` would be delivered (cheap; lets callers skip
  // formatting).
  bool enabled(LogLevel level) const noexcept;
  // Delivers the message if enabled. Exceptions thrown by the callback are
  // swallowed: logging never fails the operation that logs.
  void log(LogLevel level, std::string_view message) const noexcept;

 private:
  Runtime() = default;
  mutable std::mutex mutex_;
  LogCallback callback_;
  LogLevel min_level_ = LogLevel::info;
  bool active_ = false;
};

}  // namespace ossrt
