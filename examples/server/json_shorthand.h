// Short names for the JsonValue constructors the response writers use on
// every line.
#pragma once

#include <cstddef>
#include <string>

#include "ossrt/json.hpp"

namespace ossrt_server {

inline ossrt::JsonValue str(std::string text) {
  return ossrt::JsonValue::string(std::move(text));
}
inline ossrt::JsonValue num(size_t n) {
  return ossrt::JsonValue::unsigned_integer(n);
}

}  // namespace ossrt_server
