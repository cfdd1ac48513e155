// The "# Tools" section of system and developer messages.
#pragma once

#include <string>

#include "ossrt/harmony.hpp"

namespace ossrt::harmony {

// Namespaces in key order, each with its description and TypeScript types.
// Failure: invalid_argument for a schema nested too deep.
Result<std::string> tools_section(const ToolNamespaces& namespaces);

}  // namespace ossrt::harmony
