# All user-facing build options in one place.
option(OSSRT_BUILD_TESTS "Build the doctest suite and the conformance runners" ON)
option(OSSRT_BENCHMARKS "Build the benchmark programs (build/bin/ossrt-bench-*; with OSSRT_BUILD_TESTS)" ON)
option(OSSRT_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)
set(OSSRT_SANITIZE "" CACHE STRING "Sanitizers to build with, e.g. 'address,undefined' (empty: none)")
# CUDA is probed at configure time: AUTO enables it when a toolkit is found.
set(OSSRT_CUDA "AUTO" CACHE STRING "Build the CUDA backend: ON, OFF or AUTO")
set_property(CACHE OSSRT_CUDA PROPERTY STRINGS ON OFF AUTO)
option(OSSRT_FUZZ "Build libFuzzer targets (needs clang)" OFF)
