// Library version, compiled in.
#pragma once

namespace ossrt {

// "MAJOR.MINOR.PATCH" of the library actually linked; never null.
const char* version_string() noexcept;

}  // namespace ossrt
