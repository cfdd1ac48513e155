#include "sse_format.h"

namespace ossrt_server {

// The JSON is compact (JsonValue::dump escapes newlines), so one data line
// always holds it.
std::string sse_data(std::string_view json) {
  std::string out = "data: ";
  out += json;
  out += "\n\n";
  return out;
}

std::string sse_event(std::string_view name, std::string_view json) {
  std::string out = "event: ";
  out += name;
  out += '\n';
  out += sse_data(json);
  return out;
}

}  // namespace ossrt_server
