// YaRN constants of the real models (docs/model.md §3) and table shape.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "checkpoint_writer.hpp"
#include "model/rope_yarn.h"

using namespace ossrt;

TEST_CASE("YaRN band and concentration of gpt-oss-20b/120b") {
  const ModelConfig c = testsupport::gpt_oss_config(24, 32);
  const YarnBand band = yarn_band(c);
  CHECK(band.low == doctest::Approx(8.0928).epsilon(1e-4));
  CHECK(band.high == doctest::Approx(17.3980).epsilon(1e-4));
  RopeYarn rope(c);
  CHECK(rope.concentration() == doctest::Approx(1.346574).epsilon(1e-6));
  // Pairs at or below `low` keep the original frequency; those past `high` are divided by the factor.
  CHECK(rope.inv_freq()[0] == 1.0f);
  CHECK(rope.inv_freq()[8] == doctest::Approx(std::pow(150000.0, -16.0 / 64)).epsilon(1e-6));
  CHECK(rope.inv_freq()[20] == doctest::Approx(std::pow(150000.0, -40.0 / 64) / 32).epsilon(1e-6));
}

TEST_CASE("no YaRN when the scaling factor is 1") {
  ModelConfig c = testsupport::gpt_oss_config(24, 32);
  c.rope_scaling_factor = 1.0;
  RopeYarn rope(c);
  CHECK(rope.concentration() == 1.0f);
  std::vector<float> cos(2 * 32), sin(2 * 32);
  rope.tables(0, 2, cos.data(), sin.data());
  CHECK(cos[0] == 1.0f);  // position 0 does not rotate
  CHECK(sin[0] == 0.0f);
  CHECK(cos[32] == doctest::Approx(std::cos(1.0)));  // position 1, pair 0: angle 1 rad
}
