// config.json parsing and validation: every key, every rule.
#include <doctest/doctest.h>

#include <string>

#include "checkpoint_writer.hpp"
#include "io/model_config.h"

using namespace ossrt;
using testsupport::config_json;
using testsupport::small_config;

namespace {

Status parse(const std::string& json) {
  return parse_model_config(json, "cfg.json").status();
}

std::string with_value(const std::string& key, const std::string& value) {
  std::string json = config_json(small_config());
  const size_t at = json.find("\"" + key + "\"");
  REQUIRE(at != std::string::npos);
  const size_t begin = json.find(':', at) + 2, end = json.find_first_of(",\n", begin);
  return json.replace(begin, end - begin, value);
}

void check_fails(const Status& status, const std::string& fragment) {
  CHECK(status.code() == StatusCode::invalid_config);
  CHECK_MESSAGE(status.message().find(fragment) != std::string::npos, status.message());
}

}  // namespace

TEST_CASE("a complete config parses to its values") {
  auto config = parse_model_config(config_json(small_config()), "cfg.json");
  REQUIRE(config.ok());
  CHECK(config->num_key_value_heads == 2);
  CHECK(config->rope_scaling_factor == 8.0);
  CHECK(max_context_length(config.value()) == 512);
}

TEST_CASE("config errors name the key and the rule") {
  check_fails(parse("{"), "not valid JSON");
  check_fails(parse("[1]"), "JSON object");
  std::string missing = config_json(small_config());
  missing.erase(missing.find("  \"sliding_window\""), std::string("  \"sliding_window\": 4,\n").size());
  check_fails(parse(missing), "missing key 'sliding_window'");
  check_fails(parse(with_value("hidden_size", "-64")), "'hidden_size' is -64");
  check_fails(parse(with_value("hidden_size", "0")), "'hidden_size' is 0");
  check_fails(parse(with_value("num_experts", "\"4\"")), "'num_experts' must be an integer");
  check_fails(parse(with_value("head_dim", "16.5")), "'head_dim' must be an integer");
  check_fails(parse(with_value("rope_theta", "-1.0")), "'rope_theta'");
  check_fails(parse(with_value("num_key_value_heads", "3")), "not a multiple of num_key_value_heads");
  check_fails(parse(with_value("experts_per_token", "5")), "experts_per_token (5) exceeds num_experts (4)");
  check_fails(parse(with_value("hidden_size", "48")), "multiples of 32");
  check_fails(parse(with_value("intermediate_size", "40")), "multiples of 32");
  check_fails(parse(with_value("head_dim", "15")), "must be even");
  check_fails(parse(with_value("rope_ntk_beta", "0.5")), "YaRN band is empty");
  std::string unknown = config_json(small_config());
  unknown.insert(1, "\"model_type\": \"gpt_oss\",");
  check_fails(parse(unknown), "unknown key 'model_type'");
  std::string twice = config_json(small_config());
  twice.insert(1, "\"head_dim\": 16,");
  check_fails(parse(twice), "appears twice");
}

TEST_CASE("integral floats are accepted for float keys") {
  CHECK(parse(with_value("rope_ntk_alpha", "1")).ok());
}
