// Reading harmony's JSON shape into conversation values (and back).
#pragma once

#include <string>

#include "ossrt/harmony.hpp"

namespace ossrt::harmony {

// `where` prefixes error messages ("browser" → "browser.tools[0]: ...").
Result<ToolNamespace> namespace_from_json_value(const JsonValue& value, const std::string& where);

}  // namespace ossrt::harmony
