// Small string helpers shared by text-building code.
#pragma once

#include <string>
#include <vector>

namespace ossrt {

inline std::string join(const std::vector<std::string>& parts, const char* separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += separator;
    out += parts[i];
  }
  return out;
}

}  // namespace ossrt
