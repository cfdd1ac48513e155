// Reading one value of a config.json: the rules both layouts' parsers share
// (an integer size within the bounds every derived size relies on, a positive
// finite number), each failure an invalid_config that names the key.
#pragma once

#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "ossrt/model_config.hpp"
#include "ossrt/status.hpp"

namespace ossrt {

// Bounds that keep every derived size well inside 64 bits and token ids in int32.
inline constexpr int64_t kMaxConfigDim = int64_t{1} << 24;
inline constexpr int64_t kMaxConfigCount = 4096;

// An integer key of config.json and the field it sets.
struct ConfigIntKey {
  const char* name;
  int64_t ModelConfig::*field;
  int64_t max_value;
};

// The sizes both layouts' config.json spell alike.
inline constexpr ConfigIntKey kCommonSizeKeys[] = {
    {"num_hidden_layers", &ModelConfig::num_hidden_layers, kMaxConfigCount},
    {"vocab_size", &ModelConfig::vocab_size, kMaxConfigDim},
    {"hidden_size", &ModelConfig::hidden_size, kMaxConfigDim},
    {"intermediate_size", &ModelConfig::intermediate_size, kMaxConfigDim},
    {"head_dim", &ModelConfig::head_dim, kMaxConfigCount},
    {"num_attention_heads", &ModelConfig::num_attention_heads, kMaxConfigCount},
    {"num_key_value_heads", &ModelConfig::num_key_value_heads, kMaxConfigCount},
    {"sliding_window", &ModelConfig::sliding_window, kMaxConfigDim},
};

// An integer in [1, max_value]. `key` is the name the message gives it, `source` the file.
Result<int64_t> config_int(simdjson::dom::element value, std::string_view key, int64_t max_value,
                           const std::string& source);

// A positive finite number (an integer converts).
Result<double> config_positive_number(simdjson::dom::element value, std::string_view key, const std::string& source);

// The top-level object of config.json text `json_text`, its keys unique;
// `parser` holds the parsed document (keep it while the object is used).
// Failure: invalid_config (not JSON, not an object, a key twice).
Result<simdjson::dom::object> parse_config_object(simdjson::dom::parser& parser, std::string_view json_text,
                                                  const std::string& source);

// invalid_config "SOURCE: key 'KEY' appears twice" if the object repeats a key (JSON allows it,
// and a parser keeps one of them: which one would decide the model silently).
Status check_unique_keys(simdjson::dom::object object, const std::string& source, std::string_view where = "");

}  // namespace ossrt
