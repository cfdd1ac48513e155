// Building Status values with formatted messages, and the guard that keeps
// exceptions from crossing the public API.
#pragma once

#include <cstdio>
#include <new>
#include <string>
#include <utility>

#include "ossrt/status.hpp"

namespace ossrt {

// printf-style message; used only for short diagnostics.
template <class... Args>
std::string format(const char* fmt, Args... args) {
  // No arguments: the text is the message (never a format, so a '%' in it is kept).
  if constexpr (sizeof...(Args) == 0) {
    return fmt;
  } else {
    int n = std::snprintf(nullptr, 0, fmt, args...);
    if (n <= 0) return fmt;
    std::string out(static_cast<size_t>(n), '\0');
    std::snprintf(out.data(), out.size() + 1, fmt, args...);
    return out;
  }
}

template <class... Args>
Status error(StatusCode code, const char* fmt, Args... args) {
  return Status(code, format(fmt, args...));
}

// Runs `body` (returning Status or Result<T>) and converts any escaping
// exception into a Status, so public entry points can be noexcept.
template <class Body>
auto guard(const char* where, Body&& body) noexcept -> decltype(body()) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return Status(StatusCode::out_of_memory, std::string(where) + ": out of memory");
  } catch (const std::exception& e) {
    return Status(StatusCode::internal, std::string(where) + ": " + e.what());
  } catch (...) {
    return Status(StatusCode::internal, std::string(where) + ": unknown exception");
  }
}

}  // namespace ossrt
