#include "io/config_values.h"

#include <cmath>
#include <unordered_set>

#include "util/errors.h"

namespace ossrt {

Result<int64_t> config_int(simdjson::dom::element value, std::string_view key, int64_t max_value,
                           const std::string& source) {
  const int name_length = static_cast<int>(key.size());
  int64_t v = 0;
  if (value.get_int64().get(v) != simdjson::SUCCESS) {
    return error(StatusCode::invalid_config, "%s: key '%.*s' must be an integer", source.c_str(), name_length,
                 key.data());
  }
  if (v <= 0 || v > max_value) {
    return error(StatusCode::invalid_config, "%s: key '%.*s' is %lld; it must be in [1, %lld]", source.c_str(),
                 name_length, key.data(), static_cast<long long>(v), static_cast<long long>(max_value));
  }
  return v;
}

Result<double> config_positive_number(simdjson::dom::element value, std::string_view key, const std::string& source) {
  const int name_length = static_cast<int>(key.size());
  double v = 0;
  if (value.get_double().get(v) != simdjson::SUCCESS) {  // integers convert too
    return error(StatusCode::invalid_config, "%s: key '%.*s' must be a number", source.c_str(), name_length,
                 key.data());
  }
  if (!std::isfinite(v) || v <= 0) {
    return error(StatusCode::invalid_config, "%s: key '%.*s' is %g; it must be a positive finite number",
                 source.c_str(), name_length, key.data(), v);
  }
  return v;
}

Result<simdjson::dom::object> parse_config_object(simdjson::dom::parser& parser, std::string_view json_text,
                                                  const std::string& source) {
  simdjson::dom::element root;
  if (auto err = parser.parse(json_text.data(), json_text.size()).get(root); err != simdjson::SUCCESS) {
    return error(StatusCode::invalid_config, "%s: not valid JSON: %s", source.c_str(), simdjson::error_message(err));
  }
  simdjson::dom::object object;
  if (root.get_object().get(object) != simdjson::SUCCESS) {
    return error(StatusCode::invalid_config, "%s: top level must be a JSON object", source.c_str());
  }
  if (Status status = check_unique_keys(object, source); !status.ok()) return status;
  return object;
}

Status check_unique_keys(simdjson::dom::object object, const std::string& source, std::string_view where) {
  std::unordered_set<std::string_view> seen;
  for (auto field : object) {
    if (!seen.insert(field.key).second) {
      return error(StatusCode::invalid_config, "%s: key '%.*s%.*s' appears twice", source.c_str(),
                   static_cast<int>(where.size()), where.data(), static_cast<int>(field.key.size()), field.key.data());
    }
  }
  return Status::success();
}

}  // namespace ossrt
