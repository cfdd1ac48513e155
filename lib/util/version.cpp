#include "ossrt/version.hpp"

namespace ossrt {

const char* version_string() noexcept {
  return OSSRT_VERSION_STRING;
}

}  // namespace ossrt
