// OSSRT_CPU_ISA: a level lowers the default CPU backend, any other value makes
// loading fail with invalid_argument. The process reads the variable once, so
// ctest runs the last case again under OSSRT_CPU_ISA=bogus and =scalar
// (unit.cpu_isa_variable.*); its checks follow whatever the variable says.
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "backend/backend.h"
#include "backend/cpu/cpu_features.h"
#include "backend/cpu/kernels.h"
#include "ossrt/model.hpp"

using namespace ossrt;

TEST_CASE("an OSSRT_CPU_ISA value lowers the level, never raises it, and anything else is no level") {
  CHECK(cpu_isa_for_request(nullptr, CpuIsa::avx512) == CpuIsa::avx512);
  CHECK(cpu_isa_for_request("", CpuIsa::avx2) == CpuIsa::avx2);
  CHECK(cpu_isa_for_request("scalar", CpuIsa::avx512) == CpuIsa::scalar);
  CHECK(cpu_isa_for_request("avx2", CpuIsa::avx512) == CpuIsa::avx2);
  CHECK(cpu_isa_for_request("avx512", CpuIsa::avx2) == CpuIsa::avx2);
  CHECK(cpu_isa_for_request("avx512", CpuIsa::avx512) == CpuIsa::avx512);
  for (const char* bad : {"bogus", "AVX2", "avx2 ", " avx2", "sse4", "cpu-avx2"})
    CHECK_MESSAGE(!cpu_isa_for_request(bad, CpuIsa::avx512).has_value(), bad);
}

TEST_CASE("OSSRT_CPU_ISA decides the default backend, or fails the load naming itself") {
  const char* requested = std::getenv("OSSRT_CPU_ISA");
  const std::optional<CpuIsa> isa = cpu_isa_for_request(requested, best_cpu_isa());
  Backend backend{};
  const char* message = "";
  auto model = Model::load(OSSRT_TEST_DATA_DIR "/tiny-a");
  if (isa) {
    CHECK(cpu_isa_variable_error() == nullptr);
    CHECK(default_cpu_isa() == *isa);
    REQUIRE(model.ok());
    CHECK(model.value()->info().backend == cpu_backend(*isa).name);
    CHECK(resolve_backend("cpu", backend, &message));
  } else {
    REQUIRE(cpu_isa_variable_error() != nullptr);
    const std::string error = cpu_isa_variable_error();
    CHECK(error.find(std::string("OSSRT_CPU_ISA is '") + requested + "'") != std::string::npos);
    CHECK(error.find("scalar, avx2 or avx512") != std::string::npos);
    REQUIRE_FALSE(model.ok());
    CHECK(model.status().code() == StatusCode::invalid_argument);
    CHECK(model.status().message().find(error) != std::string::npos);
    CHECK_FALSE(resolve_backend("cpu", backend, &message));
    CHECK(std::string(message) == error);
    // A backend named outright does not read the variable.
    CHECK(resolve_backend("cpu-reference", backend, &message));
  }
}
